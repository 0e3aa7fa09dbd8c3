/**
 * Compressed clusters to data clusters. Each stream must give exactly one cluster; bytes past
 * the virtual size are zeroed, and a cluster that inflates to all zeros is dropped.
 */
import { FormatError } from '../errors.js';
import type { ClusterCodec } from '../codecs/codec.js';
import { pakoDeflate } from '../codecs/deflate-pako.js';
import { zstdCodec } from '../codecs/zstd.js';
import type { ClusterRecord, CompressionAlgorithm } from './clusters.js';
import { isAllZero } from './zero-detect.js';

export type Codecs = Record<CompressionAlgorithm, ClusterCodec>;

/** Portable codecs: pako for deflate, fzstd for zstd. The Node layer swaps in node:zlib. */
export function portableCodecs(): Codecs {
  return { deflate: pakoDeflate(), zstd: zstdCodec() };
}

/** Inflates one compressed record; FormatError names the guest cluster when the stream is bad. */
export function inflateRecord(record: Extract<ClusterRecord, { kind: 'compressed' }>, clusterSize: number, virtualSize: number, codecs: Codecs): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = codecs[record.algorithm].decompress(record.bytes, clusterSize);
  } catch (error) {
    throw new FormatError(`compressed guest cluster ${record.index}`, (error as Error).message);
  }
  const end = virtualSize - record.index * clusterSize;
  if (end < clusterSize) bytes.fill(0, Math.max(0, end));
  return bytes;
}

export function decompressClusters(options: { codecs?: Codecs } = {}): (source: AsyncIterable<ClusterRecord>) => AsyncGenerator<ClusterRecord> {
  const codecs = options.codecs ?? portableCodecs();
  return async function* decompressor(source) {
    let clusterSize = 0;
    let virtualSize = Infinity;
    for await (const record of source) {
      if (record.kind === 'begin') {
        clusterSize = record.clusterSize;
        virtualSize = record.virtualSize ?? Infinity;
      }
      if (record.kind !== 'compressed') {
        yield record;
        continue;
      }
      const bytes = inflateRecord(record, clusterSize, virtualSize, codecs);
      if (!isAllZero(bytes)) yield { kind: 'data', index: record.index, bytes };
    }
  };
}
