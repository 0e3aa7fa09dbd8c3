/**
 * Raw input as a cluster stream, whatever it is: a regular file is read in two passes (no
 * spool needed downstream); a pipe, device, socket or any async iterable of bytes goes
 * through the chunker in one pass.
 */
import { chunkRaw } from '../stages/chunker.js';
import type { ClusterRecord } from '../stages/clusters.js';
import type { BufferPool } from '../stages/buffer-pool.js';
import { readPath } from './descriptor-source.js';
import { isRegularFile } from './file-kind.js';
import { readRawFile } from './raw-file-source.js';

export interface RawSourceOptions {
  clusterSize: number;
  virtualSize?: number;
  /** For a regular file: read it twice (default) rather than once through the chunker. */
  twoPass?: boolean;
  /** Where the bytes are read (or split clusters joined) into. Default: the shared pool. */
  pool?: BufferPool;
  /** For a regular file read twice: find the allocation map first (default), or bound it by the data extents and read once (for a writer that takes its head last). */
  scan?: boolean;
}

export async function* rawClusters(source: string | AsyncIterable<Uint8Array>, options: RawSourceOptions): AsyncGenerator<ClusterRecord> {
  const chunker = chunkRaw(options);
  if (typeof source !== 'string') {
    yield* chunker(source);
    return;
  }
  if ((options.twoPass ?? true) && (await isRegularFile(source))) {
    yield* readRawFile(source, options);
    return;
  }
  yield* chunker(readPath(source, { ...(options.pool && { pool: options.pool }) }));
}
