/**
 * Conversions between formats, as pipelines of stages with Node defaults: the source is
 * probed (raw or qcow2), read the cheapest way it allows, inflated where compressed, cut to
 * another cluster size where asked, and written as qcow2 or raw.
 */
import { OptionError } from '../errors.js';
import type { ImageHead } from '../format/image-head.js';
import type { ClusterRecord } from '../stages/clusters.js';
import { decompressClusters } from '../stages/decompress.js';
import { writeQcow2, imageOptionsFor, type Qcow2WriterOptions } from '../stages/qcow2-writer.js';
import { reclusterClusters } from '../stages/recluster.js';
import type { BufferPool } from './buffer-pool.js';
import { nodeCodecs } from './codecs.js';
import { probeFormat, probeStream, type ImageFormat } from './probe.js';
import { qcow2Clusters } from './qcow2-source.js';
import { rawClusters } from './raw-source.js';
import { DEFAULT_CLUSTER_SIZE } from './raw-to-qcow2.js';
import { tempFileSpool, type TempFileSpoolOptions } from './temp-file-spool.js';
import type { BackingOpener } from '../stages/guest-image.js';

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
  pool?: BufferPool;
}

/** Any source as a cluster stream, compressed clusters still compressed. */
export async function openSource(source: string | AsyncIterable<Uint8Array>, options: SourceOptions = {}): Promise<{ format: ImageFormat; records: AsyncGenerator<ClusterRecord> }> {
  let input = source;
  let format = options.format;
  if (format === undefined) {
    if (typeof source === 'string') format = await probeFormat(source);
    else ({ format, stream: input } = await probeStream(source));
  }
  if (format === 'qcow2') {
    if (options.virtualSize !== undefined) throw new OptionError('--size', 'only applies to a raw source (a qcow2 image has its own size)');
    return {
      format,
      records: qcow2Clusters(input, {
        ...options,
        codecs: nodeCodecs(),
      }),
    };
  }
  return {
    format,
    records: rawClusters(input, {
      clusterSize: options.clusterSize ?? DEFAULT_CLUSTER_SIZE,
      ...(options.virtualSize !== undefined && { virtualSize: options.virtualSize }),
      ...(options.pool && { pool: options.pool }),
    }),
  };
}

export interface Qcow2OutputOptions extends Qcow2WriterOptions, TempFileSpoolOptions {
  clusterSize?: number;
}

/** A cluster stream as qcow2 bytes: inflated, cut to the output cluster size, spooled if it must be. */
export function toQcow2(records: AsyncIterable<ClusterRecord>, options: Qcow2OutputOptions = {}): AsyncGenerator<Uint8Array> {
  const clusterSize = options.clusterSize ?? DEFAULT_CLUSTER_SIZE;
  imageOptionsFor(options, clusterSize);
  const inflated = decompressClusters({ codecs: nodeCodecs() })(records);
  return writeQcow2({ ...options, spool: options.spool ?? tempFileSpool(options) })(reclusterClusters(clusterSize)(inflated));
}

/** A cluster stream with every compressed cluster inflated, ready for a raw sink. */
export function toRawClusters(records: AsyncIterable<ClusterRecord>): AsyncGenerator<ClusterRecord> {
  return decompressClusters({ codecs: nodeCodecs() })(records);
}
