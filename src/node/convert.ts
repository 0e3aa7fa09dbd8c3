/**
 * Conversions between formats, as pipelines of stages with Node defaults: the source is
 * probed (raw or qcow2), read the cheapest way it allows, inflated where compressed (on
 * every core), cut to another cluster size where asked, compressed (on every core) where
 * asked, and written as qcow2 or raw.
 */
import { OptionError } from '../errors.js';
import { AllocationMap } from '../format/allocation-map.js';
import { l2Entries } from '../format/geometry.js';
import type { ImageHead } from '../format/image-head.js';
import type { ClusterRecord } from '../stages/clusters.js';
import { compressClusters } from '../stages/compress.js';
import { decompressClusters } from '../stages/decompress.js';
import type { BackingOpener } from '../stages/guest-image.js';
import { writeQcow2HeadLast, type HeadLastSegment } from '../stages/qcow2-head-last-writer.js';
import { imageOptionsFor, writeQcow2, type Qcow2WriterOptions } from '../stages/qcow2-writer.js';
import { reclusterClusters } from '../stages/recluster.js';
import { release, type BufferPool } from '../stages/buffer-pool.js';
import { availableParallelism } from 'node:os';
import type { BatchCompressor, CompressOptions } from '../stages/compress.js';
import { CodecPool, type CodecPoolOptions } from './codec-pool.js';
import { readPath } from './descriptor-source.js';
import { isRegularFile } from './file-kind.js';
import { probeFormat, probeStream, type ImageFormat } from './probe.js';
import { qcow2Clusters } from './qcow2-source.js';
import { rawClusters } from './raw-source.js';
import { DEFAULT_CLUSTER_SIZE } from './raw-to-qcow2.js';
import { tempFileSpool, type TempFileSpoolOptions } from './temp-file-spool.js';

export interface SourceOptions extends TempFileSpoolOptions {
  /** 'raw' or 'qcow2'; default: probed from the first bytes. */
  format?: ImageFormat;
  /** Cluster size to cut a raw source into. Default 64 KiB. */
  clusterSize?: number;
  /** Virtual size of a raw source (see ChunkerOptions). */
  virtualSize?: number;
  /** qcow2 in a regular file: random access (default) or forward-only reading. */
  randomAccess?: boolean;
  /** The backing image of a qcow2 source (-B), or an opener. */
  backing?: string | BackingOpener;
  onWarning?: (message: string) => void;
  onHead?: (head: ImageHead) => void;
  /** Where the source's bytes are read into. Default: the shared pool. */
  pool?: BufferPool;
  /** A raw regular file: find its allocation map in a first pass (default) or read it once (see raw-file-source.ts). */
  scan?: boolean;
}

export interface OpenedSource {
  format: ImageFormat;
  records: AsyncGenerator<ClusterRecord>;
  /** Reads a path source again from the start (a stream cannot be). */
  reopen: (() => AsyncGenerator<ClusterRecord>) | undefined;
}

/** Any source as a cluster stream, compressed clusters still compressed. */
export async function openSource(path: string | AsyncIterable<Uint8Array>, options: SourceOptions = {}): Promise<OpenedSource> {
  // What is not a regular file (a FIFO, a device) can be read only once, from its start: as a stream.
  const source = typeof path === 'string' && !(await isRegularFile(path)) ? readPath(path, { ...(options.pool && { pool: options.pool }) }) : path;
  let input = source;
  let format = options.format;
  if (format === undefined) {
    if (typeof source === 'string') format = await probeFormat(source);
    else ({ format, stream: input } = await probeStream(source));
  }
  if (format === 'qcow2' && options.virtualSize !== undefined) throw new OptionError('--size', 'only applies to a raw source (a qcow2 image has its own size)');
  // node:zlib loads only for a source that may hold compressed clusters (it costs startup).
  const codecs = format === 'qcow2' ? (await import('./codecs.js')).nodeCodecs() : undefined;
  const open = (from: string | AsyncIterable<Uint8Array>) =>
    codecs
      ? qcow2Clusters(from, { ...options, codecs })
      : rawClusters(from, {
          clusterSize: options.clusterSize ?? DEFAULT_CLUSTER_SIZE,
          ...(options.virtualSize !== undefined && { virtualSize: options.virtualSize }),
          ...(options.pool && { pool: options.pool }),
          ...(options.scan !== undefined && { scan: options.scan }),
        });
  return { format, records: open(input), reopen: typeof source === 'string' ? () => open(source) : undefined };
}

export interface CompressionOptions extends CodecPoolOptions {
  /** Write compressed clusters (qemu-img convert -c). */
  compress?: boolean;
  /**
   * With a source that can be read twice: compress it once to learn every compressed length,
   * then again to write, so nothing is spooled (twice the CPU). Default: compress once and
   * spool the compressed clusters (disk: the size of the compressed image).
   */
  compressTwice?: boolean;
  /** Deflate even the clusters whose bytes look random (see stages/incompressible.ts), as qemu-img does. Default: only with deflate 'pako-legacy'. */
  compressEveryCluster?: boolean;
  /** Worker threads to share for inflating (and for pako deflate); otherwise made for the conversion and closed after it. */
  codecPool?: CodecPool;
}

/**
 * Deflate on every core. node:zlib runs on libuv's thread pool through a few long-lived
 * streams: measured here it is as fast as worker threads within a few percent, and each
 * worker isolate would cost 35-45 MB of memory. pako is JavaScript, so it needs workers.
 */
async function compressorFor(options: CompressionOptions, pool: CodecPool): Promise<BatchCompressor & { close(): void }> {
  if ((options.deflate ?? 'zlib') === 'zlib') {
    const { threadpoolCompressor } = await import('./threadpool-compressor.js'); // node:zlib, only when compressing
    return threadpoolCompressor({ streams: 3 * (options.threads ?? availableParallelism()), ...(options.level !== undefined && { level: options.level }) });
  }
  return { ...pool.compressor(), close: () => {} };
}

export interface Qcow2OutputOptions extends Qcow2WriterOptions, TempFileSpoolOptions, CompressionOptions {
  clusterSize?: number;
}

/** Runs `body` with the given pool, or with one made for it and closed when it ends. */
async function* withPool<T>(options: CompressionOptions, body: (pool: CodecPool) => AsyncGenerator<T>): AsyncGenerator<T> {
  const pool = options.codecPool ?? new CodecPool(options);
  try {
    yield* body(pool);
  } finally {
    if (!options.codecPool) await pool.close();
  }
}

/** Inflated (on every core), cut to `clusterSize`, and compressed (on every core) if `compression` is given. */
function prepared(records: AsyncIterable<ClusterRecord>, clusterSize: number, pool: CodecPool, compression: Pick<CompressOptions, 'compressor' | 'compressEveryCluster'> | undefined, buffers: BufferPool | undefined): AsyncGenerator<ClusterRecord> {
  const inflated = decompressClusters({ decompressor: pool.decompressor(), inFlight: 2 * pool.threads })(records);
  const cut = reclusterClusters(clusterSize, buffers)(inflated);
  if (!compression) return cut;
  return compressClusters({ ...compression, inFlight: 2 * pool.threads })(cut);
}

/**
 * Reads a re-readable source twice: the first pass only learns the allocation map (with
 * every compressed length), the second streams with the map in its begin record.
 */
async function* twoPassesCompressed(makeSource: () => AsyncIterable<ClusterRecord>, prepare: (records: AsyncIterable<ClusterRecord>) => AsyncGenerator<ClusterRecord>): AsyncGenerator<ClusterRecord> {
  let map: AllocationMap | undefined;
  let clusterSize = 0;
  let virtualSize = 0;
  for await (const record of prepare(makeSource())) {
    if (record.kind === 'begin') {
      clusterSize = record.clusterSize;
      map = new AllocationMap(l2Entries(clusterSize));
    } else if (record.kind === 'data') map!.addData(record.index, record.bytes.length / clusterSize);
    else if (record.kind === 'compressed') map!.addCompressed(record.index, record.bytes.length);
    else if (record.kind === 'end') virtualSize = record.virtualSize;
    if (record.kind === 'data' || record.kind === 'compressed') release(record.bytes);
  }
  for await (const record of prepare(makeSource())) {
    yield record.kind === 'begin' ? { kind: 'begin', clusterSize: record.clusterSize, virtualSize, allocation: map! } : record;
  }
}

/** Runs `body` on the source prepared for a qcow2 writer: inflated, cut, compressed if asked. */
function preparedForQcow2<T>(options: Qcow2OutputOptions, body: (prepare: (records: AsyncIterable<ClusterRecord>) => AsyncGenerator<ClusterRecord>) => AsyncGenerator<T>): AsyncGenerator<T> {
  if (options.compressEveryCluster && !options.compress) throw new OptionError('--compress-every-cluster', 'only applies with compression (-c)');
  const clusterSize = options.clusterSize ?? DEFAULT_CLUSTER_SIZE;
  imageOptionsFor(options, clusterSize);
  return withPool({ ...options, ...(options.pool && { buffers: options.buffers ?? options.pool }) }, async function* (pool) {
    const compressor = options.compress ? await compressorFor(options, pool) : undefined;
    try {
      // pako-legacy is asked for to get qemu-img's very image, so it tries every cluster as qemu does.
      const compression = compressor && { compressor, compressEveryCluster: options.compressEveryCluster ?? options.deflate === 'pako-legacy' };
      yield* body((source) => prepared(source, clusterSize, pool, compression, options.pool));
    } finally {
      compressor?.close();
    }
  });
}

/**
 * A cluster stream as qcow2 bytes. `reopen`, when given, makes the source again (for
 * compressTwice); without it compressed output is spooled.
 */
export function toQcow2(records: AsyncIterable<ClusterRecord>, options: Qcow2OutputOptions = {}, reopen?: () => AsyncIterable<ClusterRecord>): AsyncGenerator<Uint8Array> {
  if (options.compressTwice && !options.compress) throw new OptionError('--compress-twice', 'only applies with compression (-c)');
  if (options.compressTwice && !reopen) throw new OptionError('--compress-twice', 'needs a source that can be read twice (a regular file)');
  return preparedForQcow2(options, async function* (prepare) {
    let reads = 0;
    const source = () => (reads++ === 0 ? records : reopen!());
    const clusters = options.compressTwice ? twoPassesCompressed(source, prepare) : prepare(records);
    yield* writeQcow2({ ...options, spool: options.spool ?? tempFileSpool(options) })(clusters);
  });
}

/** A cluster stream as qcow2 for a sink that takes the head last: one pass, nothing spooled. */
export function toQcow2HeadLast(records: AsyncIterable<ClusterRecord>, options: Qcow2OutputOptions = {}): AsyncGenerator<HeadLastSegment> {
  if (options.compressTwice) throw new OptionError('--compress-twice', 'has nothing to do when the destination takes its head last');
  return preparedForQcow2(options, (prepare) => writeQcow2HeadLast(options)(prepare(records)));
}

/**
 * Compressed bytes per inflate batch. Two batches of 256 KiB per thread in flight kept a pipe
 * read of the bench's compressed ext4 image at 138-140 MiB peak RSS in the same time as three
 * of 512 KiB (160 MiB); more batches in flight grew memory and time alike.
 */
const INFLATE_BATCH = 256 * 1024;

/** A cluster stream with every compressed cluster inflated (on every core), ready for a raw sink. */
export function toRawClusters(records: AsyncIterable<ClusterRecord>, options: CompressionOptions = {}): AsyncGenerator<ClusterRecord> {
  return withPool(options, (pool) => decompressClusters({ decompressor: pool.decompressor(), inFlight: 2 * pool.threads, batchBytes: INFLATE_BATCH })(records));
}
