/**
 * A raw image in a regular file, read in two passes so the qcow2 writer needs no spool:
 * the first pass finds the allocated clusters (skipping holes, scanning the rest for zeros),
 * the second reads just those clusters. Memory is a few read buffers plus the allocation map.
 *
 * A writer that takes its head last (a qcow2 file, S3) needs no map up front, so for it the
 * file can be read once (`scan: false`): the begin record then only bounds the map by the
 * file's data extents, which lseek finds without reading, and zero clusters are dropped as
 * they are read. That saves a whole read of the disk.
 *
 * Clusters are read into pool buffers (see buffer-pool.ts) and go downstream holding their
 * references: a read with no zero cluster in it as one record, otherwise one view per run.
 */
import type { FileHandle } from 'node:fs/promises';
import { InputError } from '../errors.js';
import { AllocationMap } from '../format/allocation-map.js';
import { SECTOR_SIZE } from '../format/constants.js';
import { l2Entries } from '../format/geometry.js';
import { roundUp } from '../format/uint64.js';
import { dataRuns, tooLongError, validateVirtualSize } from '../stages/chunker.js';
import type { ClusterRecord } from '../stages/clusters.js';
import { BufferPool, release, retain, sharedBufferPool } from '../stages/buffer-pool.js';
import { dataExtents } from './data-extents.js';
import { openForReading } from './image-file.js';
import { ioError } from './io-error.js';
import { orderedReads } from './ordered-reads.js';
import { readFully } from './positional-io.js';

export interface RawFileOptions {
  clusterSize: number;
  /** As in ChunkerOptions: a multiple of 512 no smaller than the file. Default: file length rounded up to 512. */
  virtualSize?: number;
  /** Bytes per read; rounded up to whole clusters. Default 1 MiB. */
  readSize?: number;
  /** Where the clusters are read into. Default: the shared pool. */
  pool?: BufferPool;
  /** Find the allocation map with a first pass (default true); false reads once, see above. */
  scan?: boolean;
}

export const DEFAULT_READ_SIZE = 1024 * 1024;
/** Reads in flight at once; page-cache reads scale to about this many. */
const READ_DEPTH = 3;

/** Byte ranges [start, end) of whole clusters covering the file's data extents, without overlaps, in reads of at most `readSize`. */
async function* clusterReads(fd: number, size: number, clusterSize: number, readSize: number): AsyncGenerator<[number, number]> {
  let scannedTo = 0;
  for await (const [start, end] of dataExtents(fd, size)) {
    let from = Math.max(Math.floor(start / clusterSize) * clusterSize, scannedTo);
    const to = roundUp(end, clusterSize);
    for (; from < to; from += readSize) yield [from, Math.min(from + readSize, to)];
    scannedTo = Math.max(scannedTo, to);
  }
}

/** Bytes [from, to) of the file into the start of `buffer`; zeros for any part past its end (the last cluster's tail). */
async function readClusters(fd: number, size: number, buffer: Uint8Array, from: number, to: number): Promise<Uint8Array> {
  const got = await readFully(fd, buffer, Math.min(to, size) - from, from);
  buffer.fill(0, got, to - from);
  return buffer.subarray(0, to - from);
}

/** Pass one: the allocation map of the file's non-zero clusters, read through one pool buffer per slot (pass two reuses them). */
async function scanAllocation(file: FileHandle, size: number, clusterSize: number, readSize: number, pool: BufferPool): Promise<AllocationMap> {
  const map = new AllocationMap(l2Entries(clusterSize));
  const buffers = Array.from({ length: READ_DEPTH }, () => pool.take(readSize));
  try {
    const reads = orderedReads(clusterReads(file.fd, size, clusterSize, readSize), READ_DEPTH, async ([from, to], slot) => ({
      from,
      bytes: await readClusters(file.fd, size, buffers[slot]!, from, to),
    }));
    for await (const { from, bytes } of reads) {
      for (const run of dataRuns(bytes, from / clusterSize, clusterSize)) map.addData(run.index, run.bytes.length / clusterSize);
    }
    return map;
  } finally {
    buffers.forEach(release);
  }
}

/** The clusters of the file's data extents: no cluster outside them holds anything. */
async function extentBound(fd: number, size: number, clusterSize: number): Promise<AllocationMap> {
  const map = new AllocationMap(l2Entries(clusterSize));
  for await (const [from, to] of clusterReads(fd, size, clusterSize, Number.MAX_SAFE_INTEGER)) map.addData(from / clusterSize, (to - from) / clusterSize);
  return map;
}

/**
 * The one pass: every cluster of the data extents read, the all-zero ones dropped. A read that
 * holds no zero cluster (nearly all of them, on a real disk) goes downstream whole, so the
 * sink can give its buffer back to `pool`; one that holds nothing goes back at once.
 */
/** A read into a pool buffer, given back if it fails. */
async function pooledRead<T>(pool: BufferPool, length: number, read: (buffer: Uint8Array) => Promise<T>): Promise<T> {
  const buffer = pool.take(length);
  try {
    return await read(buffer);
  } catch (error) {
    release(buffer);
    throw error;
  }
}

async function* readExtents(file: FileHandle, size: number, clusterSize: number, readSize: number, pool: BufferPool): AsyncGenerator<ClusterRecord> {
  const reads = orderedReads(
    clusterReads(file.fd, size, clusterSize, readSize),
    READ_DEPTH,
    ([from, to]) => pooledRead(pool, to - from, async (buffer) => ({ from, bytes: await readClusters(file.fd, size, buffer, from, to) })),
    ({ bytes }) => release(bytes),
  );
  for await (const { from, bytes } of reads) {
    const runs = [...dataRuns(bytes, from / clusterSize, clusterSize)];
    if (runs.length === 0) release(bytes);
    else if (runs.length === 1 && runs[0]!.bytes.length === bytes.length) yield { kind: 'data', index: runs[0]!.index, bytes };
    else {
      retain(bytes, runs.length - 1);
      for (const run of runs) yield { kind: 'data', index: run.index, bytes: run.bytes };
    }
  }
}

/** Pass two: the allocated clusters' bytes, each read in a pool buffer of its own. */
function readAllocated(file: FileHandle, size: number, map: AllocationMap, clusterSize: number, readSize: number, pool: BufferPool): AsyncGenerator<ClusterRecord> {
  function* ranges(): Generator<[number, number]> {
    for (const run of map.runs()) {
      const end = (run.start + run.count) * clusterSize;
      for (let from = run.start * clusterSize; from < end; from += readSize) yield [from, Math.min(from + readSize, end)];
    }
  }
  const read = ([from, to]: [number, number]) =>
    pooledRead(pool, to - from, async (buffer) => {
      const want = Math.max(0, Math.min(to, size) - from);
      const got = await readFully(file.fd, buffer, want, from);
      if (got < want) throw new InputError('the source file shrank while it was being converted');
      buffer.fill(0, got);
      return { kind: 'data' as const, index: from / clusterSize, bytes: buffer };
    });
  return orderedReads(ranges(), READ_DEPTH, read, ({ bytes }) => release(bytes));
}

/** The cluster stream of a raw file, with the allocation map in its begin record. */
export async function* readRawFile(path: string, options: RawFileOptions): AsyncGenerator<ClusterRecord> {
  const { clusterSize } = options;
  validateVirtualSize(options.virtualSize);
  const readSize = roundUp(options.readSize ?? DEFAULT_READ_SIZE, clusterSize);
  const file = await openForReading(path);
  try {
    const before = await file.stat({ bigint: true });
    const size = Number(before.size);
    if (options.virtualSize !== undefined && size > options.virtualSize) throw tooLongError(options.virtualSize);
    const virtualSize = options.virtualSize ?? roundUp(size, SECTOR_SIZE);
    const pool = options.pool ?? sharedBufferPool();
    if (options.scan ?? true) {
      const allocation = await scanAllocation(file, size, clusterSize, readSize, pool);
      yield { kind: 'begin', clusterSize, virtualSize, allocation };
      yield* readAllocated(file, size, allocation, clusterSize, readSize, pool);
    } else {
      yield { kind: 'begin', clusterSize, virtualSize, bound: await extentBound(file.fd, size, clusterSize) };
      yield* readExtents(file, size, clusterSize, readSize, pool);
    }
    const after = await file.stat({ bigint: true });
    if (after.size !== before.size || after.mtimeNs !== before.mtimeNs) {
      throw new InputError(`'${path}' changed while it was being converted`);
    }
    yield { kind: 'end', virtualSize };
  } catch (error) {
    throw ioError(error, 'read', path);
  } finally {
    await file.close();
  }
}
