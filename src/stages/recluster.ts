/**
 * Changes the cluster size of a cluster stream (qcow2 to qcow2 with another cluster_size):
 * larger clusters are cut into smaller ones, smaller ones gathered into larger ones; all-zero
 * results are dropped. Compressed records must be inflated first.
 *
 * Ownership (see buffer-pool.ts): pieces cut from a record hold a reference each to its buffer;
 * clusters gathered from smaller ones are copied into pool buffers and their sources released.
 */
import { InputError, OptionError } from '../errors.js';
import { clusterBitsOf } from '../format/geometry.js';
import { BufferPool, release, retain, sharedBufferPool } from './buffer-pool.js';
import type { ClusterRecord } from './clusters.js';
import { isAllZero } from './zero-detect.js';

export function reclusterClusters(clusterSize: number, pool: BufferPool = sharedBufferPool()): (source: AsyncIterable<ClusterRecord>) => AsyncGenerator<ClusterRecord> {
  if (clusterBitsOf(clusterSize) === undefined) throw new OptionError('cluster_size', `${clusterSize} is not a power of two from 512 to 2097152`);
  return async function* recluster(source) {
    let from = 0;
    /** The output cluster being gathered (when input clusters are smaller). */
    let index = -1;
    let gathered: Uint8Array | undefined;
    const flush = function* (): Generator<ClusterRecord> {
      const bytes = gathered;
      gathered = undefined;
      if (!bytes) return;
      if (isAllZero(bytes)) release(bytes);
      else yield { kind: 'data', index, bytes };
    };
    for await (const record of source) {
      if (record.kind === 'begin') {
        from = record.clusterSize;
        yield from === clusterSize ? record : { kind: 'begin', clusterSize, ...(record.virtualSize !== undefined && { virtualSize: record.virtualSize }) };
        continue;
      }
      if (record.kind === 'zero') continue;
      if (from === clusterSize) {
        yield record;
        if (record.kind === 'end') return;
        continue;
      }
      if (record.kind === 'end') {
        yield* flush();
        yield record;
        return;
      }
      if (record.kind === 'compressed') throw new InputError(`guest cluster ${record.index} is still compressed: decompress before changing the cluster size`);
      const start = record.index * from;
      if (from > clusterSize) {
        for (let at = 0; at < record.bytes.length; at += clusterSize) {
          const piece = record.bytes.subarray(at, at + clusterSize);
          if (isAllZero(piece)) continue;
          retain(piece);
          yield { kind: 'data', index: (start + at) / clusterSize, bytes: piece };
        }
        release(record.bytes);
        continue;
      }
      for (let at = 0; at < record.bytes.length; ) {
        const target = Math.floor((start + at) / clusterSize);
        if (target !== index) {
          yield* flush();
          index = target;
          gathered = pool.take(clusterSize).fill(0);
        }
        const offset = start + at - target * clusterSize;
        const take = Math.min(clusterSize - offset, record.bytes.length - at);
        gathered!.set(record.bytes.subarray(at, at + take), offset);
        at += take;
      }
      release(record.bytes);
    }
    throw new InputError('cluster stream ended without an end record');
  };
}
