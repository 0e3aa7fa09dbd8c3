/**
 * Data clusters to compressed clusters, many at once, leaving in guest order. A cluster
 * whose compressed form is not smaller than cluster_size - 1 bytes stays a data cluster
 * (as qemu does). Each cluster is compressed on its own with fixed settings, so the output
 * is the same whatever the number of threads.
 *
 * Ownership (see buffer-pool.ts): a data record's reference is handed on to the clusters that
 * stay uncompressed (views of it, one reference each) and released once none does; compressed
 * streams are the compressor's own memory.
 */
import type { ClusterCodec } from '../codecs/codec.js';
import { release, retain } from './buffer-pool.js';
import type { ClusterRecord, CompressionAlgorithm } from './clusters.js';
import { looksIncompressible } from './incompressible.js';
import { orderedBatches } from './ordered-batches.js';

/** Compresses many clusters at once (in worker threads, or in turn on this one). */
export interface BatchCompressor {
  readonly algorithm: CompressionAlgorithm;
  compress(clusters: Uint8Array[]): Promise<Uint8Array[]>;
}

/** Compresses on the calling thread with one codec: portable, one core. */
export function inlineCompressor(codec: ClusterCodec, algorithm: CompressionAlgorithm = 'deflate'): BatchCompressor {
  return {
    algorithm,
    async compress(clusters) {
      return clusters.map((cluster) => codec.compress(cluster));
    },
  };
}

export interface CompressOptions {
  compressor: BatchCompressor;
  /** Bytes of clusters per batch. Default 1 MiB. */
  batchBytes?: number;
  /** Batches in flight. Default 4. */
  inFlight?: number;
  /**
   * Deflate every cluster, even those whose bytes look random (see incompressible.ts), as
   * qemu-img does. Default false: such clusters are stored without trying, which can cost
   * the few bytes deflate would have saved on a random block that repeats.
   */
  compressEveryCluster?: boolean;
}

type One = { index: number; bytes: Uint8Array; parent: Uint8Array; last: boolean } | { record: ClusterRecord };

/** Splits data runs into single clusters; other records pass as they are. */
async function* singleClusters(source: AsyncIterable<ClusterRecord>): AsyncGenerator<One> {
  let clusterSize = 0;
  for await (const record of source) {
    if (record.kind === 'begin') clusterSize = record.clusterSize;
    if (record.kind !== 'data') {
      yield { record };
      continue;
    }
    for (let at = 0; at < record.bytes.length; at += clusterSize) {
      const last = at + clusterSize >= record.bytes.length;
      yield { index: record.index + at / clusterSize, bytes: record.bytes.subarray(at, at + clusterSize), parent: record.bytes, last };
    }
  }
}

/** Compressed forms of the clusters, undefined for those not worth trying. */
async function compressSome(compressor: BatchCompressor, clusters: Uint8Array[], everyCluster: boolean): Promise<Array<Uint8Array | undefined>> {
  const tried = everyCluster ? clusters : clusters.filter((cluster) => !looksIncompressible(cluster));
  if (tried.length === clusters.length) return compressor.compress(clusters);
  const compressed = tried.length > 0 ? await compressor.compress(tried) : [];
  let next = 0;
  return clusters.map((cluster) => (cluster === tried[next] ? compressed[next++] : undefined));
}

export function compressClusters(options: CompressOptions): (source: AsyncIterable<ClusterRecord>) => AsyncGenerator<ClusterRecord> {
  const { compressor } = options;
  return async function* compressor$(source) {
    const items = orderedBatches<One, Uint8Array | undefined>(singleClusters(source), {
      select: (item) => 'bytes' in item,
      weight: (item) => ('bytes' in item ? item.bytes.length : 0),
      batchWeight: options.batchBytes ?? 1024 * 1024,
      inFlight: options.inFlight ?? 4,
      work: (batch) => compressSome(compressor, batch.map((item) => (item as { bytes: Uint8Array }).bytes), options.compressEveryCluster ?? false),
    });
    for await (const [item, compressed] of items) {
      if ('record' in item) {
        const record = item.record;
        // Compression changes which clusters are data and which compressed: a promised map
        // no longer holds, but it still bounds what comes.
        if (record.kind === 'begin' && record.allocation) {
          const { allocation, ...rest } = record;
          yield { ...rest, bound: allocation };
        } else yield record;
        continue;
      }
      const last = item.last;
      if (compressed && compressed.length < item.bytes.length - 1) yield { kind: 'compressed', index: item.index, bytes: compressed, algorithm: compressor.algorithm };
      else {
        retain(item.parent);
        yield { kind: 'data', index: item.index, bytes: item.bytes };
      }
      if (last) release(item.parent);
    }
  };
}
