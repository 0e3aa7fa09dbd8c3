/**
 * Compressed clusters to data clusters, many at once, leaving in guest order. Each stream
 * must give exactly one cluster; bytes past the virtual size are zeroed, and a cluster that
 * inflates to all zeros is dropped.
 *
 * Ownership (see buffer-pool.ts): a compressed record's reference is released once it has been
 * inflated; an inflated cluster goes downstream holding the decompressor's reference to it.
 */
import { FormatError } from '../errors.js';
import type { ClusterCodec } from '../codecs/codec.js';
import { pakoDeflate } from '../codecs/deflate-pako.js';
import { zstdCodec } from '../codecs/zstd.js';
import { release } from './buffer-pool.js';
import type { ClusterRecord, CompressedCluster, CompressionAlgorithm } from './clusters.js';
import { orderedBatches } from './ordered-batches.js';
import { isAllZero } from './zero-detect.js';

export type Codecs = Record<CompressionAlgorithm, ClusterCodec>;

/** Portable codecs: pako for deflate, libzstd (WebAssembly) for zstd. The Node layer swaps in node:zlib. */
export function portableCodecs(): Codecs {
  return { deflate: pakoDeflate(), zstd: zstdCodec() };
}

/** Inflates many streams at once; a stream that fails gives its Error in its place. Each cluster holds a reference its receiver releases. */
export interface BatchDecompressor {
  decompress(streams: CompressedCluster[], clusterSize: number): Promise<Array<Uint8Array | Error>>;
}

export function inlineDecompressor(codecs: Codecs): BatchDecompressor {
  return {
    async decompress(streams, clusterSize) {
      for (const algorithm of new Set(streams.map((stream) => stream.algorithm))) await codecs[algorithm].ready?.();
      return streams.map((stream) => {
        try {
          return codecs[stream.algorithm].decompress(stream.bytes, clusterSize);
        } catch (error) {
          return error as Error;
        }
      });
    },
  };
}

function inflated(record: CompressedCluster, result: Uint8Array | Error | undefined, clusterSize: number, virtualSize: number): Uint8Array {
  if (!(result instanceof Uint8Array)) throw new FormatError(`compressed guest cluster ${record.index}`, result?.message ?? 'was not inflated');
  const end = virtualSize - record.index * clusterSize;
  if (end < clusterSize) result.fill(0, Math.max(0, end));
  return result;
}

/** Inflates one compressed record (its codec must be ready); FormatError names the guest cluster when the stream is bad. */
export function inflateRecord(record: CompressedCluster, clusterSize: number, virtualSize: number, codecs: Codecs): Uint8Array {
  let result: Uint8Array | Error;
  try {
    result = codecs[record.algorithm].decompress(record.bytes, clusterSize);
  } catch (error) {
    result = error as Error;
  }
  return inflated(record, result, clusterSize, virtualSize);
}

export interface DecompressOptions {
  /** Inline codecs (default: portable ones) or a parallel decompressor. */
  codecs?: Codecs;
  decompressor?: BatchDecompressor;
  /** Compressed bytes per batch. Default 256 KiB. */
  batchBytes?: number;
  inFlight?: number;
}

export function decompressClusters(options: DecompressOptions = {}): (source: AsyncIterable<ClusterRecord>) => AsyncGenerator<ClusterRecord> {
  const decompressor = options.decompressor ?? inlineDecompressor(options.codecs ?? portableCodecs());
  return async function* decompressor$(source) {
    let clusterSize = 0;
    let virtualSize = Infinity;
    const items = orderedBatches<ClusterRecord, Uint8Array | Error>(source, {
      select: (record) => record.kind === 'compressed',
      weight: (record) => (record.kind === 'compressed' ? record.bytes.length : 0),
      batchWeight: options.batchBytes ?? 512 * 1024,
      inFlight: options.inFlight ?? 4,
      work: (batch) => decompressor.decompress(batch as CompressedCluster[], clusterSize),
    });
    for await (const [record, result] of items) {
      if (record.kind === 'begin') {
        clusterSize = record.clusterSize;
        virtualSize = record.virtualSize ?? Infinity;
      }
      if (record.kind !== 'compressed') {
        yield record;
        continue;
      }
      release(record.bytes);
      const bytes = inflated(record, result, clusterSize, virtualSize);
      if (!isAllZero(bytes)) yield { kind: 'data', index: record.index, bytes };
      else release(bytes);
    }
  };
}
