/**
 * Raw bytes to guest clusters. Splits the input into clusters, drops the all-zero ones and
 * passes runs of consecutive data clusters on as one record, without copying where a run
 * lies inside one input chunk. A cluster split across chunks is copied into a pool buffer.
 *
 * Ownership (see buffer-pool.ts): the chunker takes each chunk's reference and hands it on to
 * the runs that view it (one each), releasing it when none does. A source that yields bytes
 * that are not pooled must not reuse their buffer after yielding it: the runs still view it.
 */
import { InputError, OptionError } from '../errors.js';
import { SECTOR_SIZE } from '../format/constants.js';
import { clusterBitsOf } from '../format/geometry.js';
import { roundUp } from '../format/uint64.js';
import { BufferPool, release, retain, sharedBufferPool } from './buffer-pool.js';
import type { ClusterRecord } from './clusters.js';
import { isAllZero } from './zero-detect.js';

export interface ChunkerOptions {
  clusterSize: number;
  /**
   * The virtual size, when the caller states it: a multiple of 512; a shorter input is padded
   * with zeros, a longer one is an error. Default: the input length rounded up to 512.
   */
  virtualSize?: number;
  /** Where clusters split across chunks are joined. Default: the shared pool. */
  pool?: BufferPool;
}

export function validateVirtualSize(virtualSize: number | undefined): void {
  if (virtualSize === undefined) return;
  if (!Number.isSafeInteger(virtualSize) || virtualSize < 0) throw new OptionError('size', `${virtualSize} is not a byte count`);
  if (virtualSize % SECTOR_SIZE !== 0) throw new OptionError('size', `${virtualSize} is not a multiple of 512 bytes`);
}

export function tooLongError(virtualSize: number): InputError {
  return new InputError(`input is longer than the stated size of ${virtualSize} bytes`);
}

/** Finds runs of non-zero clusters in `bytes` (a whole number of clusters starting at guest cluster `first`). */
export function* dataRuns(bytes: Uint8Array, first: number, clusterSize: number): Generator<{ index: number; bytes: Uint8Array }> {
  const clusters = bytes.length / clusterSize;
  let runStart = -1;
  for (let c = 0; c <= clusters; c++) {
    const zero = c === clusters || isAllZero(bytes.subarray(c * clusterSize, (c + 1) * clusterSize));
    if (!zero && runStart < 0) runStart = c;
    if (zero && runStart >= 0) {
      yield { index: first + runStart, bytes: bytes.subarray(runStart * clusterSize, c * clusterSize) };
      runStart = -1;
    }
  }
}

/** The chunker stage: raw bytes in, cluster records out. */
export function chunkRaw(options: ChunkerOptions): (source: AsyncIterable<Uint8Array>) => AsyncGenerator<ClusterRecord> {
  const { clusterSize } = options;
  if (clusterBitsOf(clusterSize) === undefined) throw new OptionError('cluster_size', `${clusterSize} is not a power of two from 512 to 2097152`);
  validateVirtualSize(options.virtualSize);
  const stated = options.virtualSize;
  const pool = options.pool ?? sharedBufferPool();

  return async function* chunker(source) {
    yield stated === undefined ? { kind: 'begin', clusterSize } : { kind: 'begin', clusterSize, virtualSize: stated };
    /** Bytes of input consumed so far. */
    let position = 0;
    /** A partial cluster carried over between chunks, in a pool buffer of its own. */
    let pending: Uint8Array | undefined;
    let pendingLength = 0;
    /** The pending cluster (guest cluster `index`) as a record, if it holds anything; it goes downstream with its buffer. */
    const flushPending = (index: number): ClusterRecord | undefined => {
      const bytes = pending!;
      pending = undefined;
      pendingLength = 0;
      if (!isAllZero(bytes)) return { kind: 'data', index, bytes };
      release(bytes);
      return undefined;
    };

    try {
      for await (const chunk of source) {
        try {
          if (chunk.length === 0) continue;
          if (stated !== undefined && position + chunk.length > stated) throw tooLongError(stated);
          let at = 0;
          if (pending) {
            const take = Math.min(clusterSize - pendingLength, chunk.length);
            pending.set(chunk.subarray(0, take), pendingLength);
            pendingLength += take;
            at = take;
            if (pendingLength === clusterSize) {
              const record = flushPending((position + at) / clusterSize - 1);
              if (record) yield record;
            }
          }
          const whole = Math.floor((chunk.length - at) / clusterSize) * clusterSize;
          if (whole > 0) {
            const first = (position + at) / clusterSize;
            for (const run of dataRuns(chunk.subarray(at, at + whole), first, clusterSize)) {
              retain(chunk);
              yield { kind: 'data', ...run };
            }
            at += whole;
          }
          if (at < chunk.length) {
            pending = pool.take(clusterSize);
            pending.set(chunk.subarray(at), 0);
            pendingLength = chunk.length - at;
          }
          position += chunk.length;
        } finally {
          release(chunk);
        }
      }

      if (pending) {
        pending.fill(0, pendingLength);
        const record = flushPending(Math.floor(position / clusterSize));
        if (record) yield record;
      }
    } finally {
      if (pending) release(pending);
    }
    yield { kind: 'end', virtualSize: stated ?? roundUp(position, SECTOR_SIZE) };
  };
}
