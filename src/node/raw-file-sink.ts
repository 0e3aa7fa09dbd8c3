/**
 * Guest clusters to a raw image file, leaving holes where the disk reads as zeros (like
 * qemu-img convert -S): data is written at its guest offset, in ascending order, and the
 * file is extended to the virtual size at the end. Atomic like every file sink; a
 * destination that is not a regular file gets every byte, zeros included. Each record's
 * reference is released once its bytes are written.
 */
import { ftruncate } from 'node:fs';
import { promisify } from 'node:util';
import { InputError } from '../errors.js';
import { release } from '../stages/buffer-pool.js';
import type { ClusterRecord } from '../stages/clusters.js';
import { writeRaw } from '../stages/raw-writer.js';
import { onDestination, withDestination, writeAll, type FileSinkOptions } from './file-sink.js';
import { remainderAfter, writeChunks } from './positional-io.js';

const truncateFd = promisify(ftruncate);
const WRITE_BATCH = 4 * 1024 * 1024;

async function writeSparse(fd: number, records: AsyncIterable<ClusterRecord>, path: string): Promise<number> {
  let clusterSize = 0;
  let virtualSize = Infinity;
  let batch: Uint8Array[] = [];
  let batchAt = 0;
  let batchEnd = 0;
  let written = 0;
  const flush = async () => {
    let pending = batch;
    let at = batchAt;
    while (pending.length > 0) {
      const n = await onDestination(path, 'write', () => writeChunks(fd, pending, at));
      at += n;
      written += n;
      pending = remainderAfter(pending, n);
    }
    for (const bytes of batch) release(bytes);
    batch = [];
  };
  for await (const record of records) {
    if (record.kind === 'begin') {
      clusterSize = record.clusterSize;
      virtualSize = record.virtualSize ?? Infinity;
    } else if (record.kind === 'data') {
      const at = record.index * clusterSize;
      if (at < batchEnd) throw new InputError(`guest cluster ${record.index} comes out of order`);
      const bytes = record.bytes.subarray(0, Math.max(0, Math.min(record.bytes.length, virtualSize - at)));
      if (bytes.length === 0) {
        release(bytes);
        continue;
      }
      if (batch.length > 0 && (at !== batchEnd || batchEnd - batchAt >= WRITE_BATCH)) await flush();
      if (batch.length === 0) batchAt = at;
      batch.push(bytes);
      batchEnd = at + bytes.length;
    } else if (record.kind === 'compressed') {
      throw new InputError(`guest cluster ${record.index} is still compressed: decompress before writing raw`);
    } else if (record.kind === 'end') {
      await flush();
      await onDestination(path, 'extend', () => truncateFd(fd, record.virtualSize));
      return written;
    }
  }
  throw new InputError('cluster stream ended without an end record');
}

/** Writes the raw image of a cluster stream to `path`, sparse where the destination allows. */
export function writeRawFile(path: string, records: AsyncIterable<ClusterRecord>, options: FileSinkOptions = {}): Promise<number> {
  return withDestination(path, options, (fd, regularFile) =>
    regularFile ? writeSparse(fd, records, path) : writeAll(fd, writeRaw()(records), path),
  );
}
