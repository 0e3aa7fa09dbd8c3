/**
 * Raw to qcow2 in one call, with Node defaults: a temp-file spool (64 MiB in memory, then
 * disk) for sources that cannot be read twice.
 */
import type { Qcow2Layout } from '../format/layout.js';
import { imageOptionsFor, writeQcow2, type Qcow2WriterOptions } from '../stages/qcow2-writer.js';
import { rawClusters } from './raw-source.js';
import { tempFileSpool, type TempFileSpoolOptions } from './temp-file-spool.js';

export const DEFAULT_CLUSTER_SIZE = 65536;

export interface RawToQcow2Options extends Qcow2WriterOptions, TempFileSpoolOptions {
  /** Default 64 KiB. */
  clusterSize?: number;
  /** Virtual size in bytes, a multiple of 512; default: the input length rounded up to 512. */
  virtualSize?: number;
  /** For a regular file: two passes and no spool (default), or one pass through the spool. */
  twoPass?: boolean;
}

/**
 * The bytes of a qcow2 image of a raw source: a path, or any async iterable of bytes.
 * `options.onPlan` learns the exact output length before the first byte.
 */
export function rawToQcow2(source: string | AsyncIterable<Uint8Array>, options: RawToQcow2Options = {}): AsyncGenerator<Uint8Array> {
  const clusterSize = options.clusterSize ?? DEFAULT_CLUSTER_SIZE;
  imageOptionsFor(options, clusterSize); // bad options fail here, before any input is read
  const writer = writeQcow2({
    ...options,
    spool: options.spool ?? tempFileSpool(options),
  });
  const clusters = rawClusters(source, {
    clusterSize,
    ...(options.virtualSize !== undefined && { virtualSize: options.virtualSize }),
    ...(options.twoPass !== undefined && { twoPass: options.twoPass }),
    ...(options.pool !== undefined && { pool: options.pool }),
  });
  return writer(clusters);
}

export type { Qcow2Layout };
