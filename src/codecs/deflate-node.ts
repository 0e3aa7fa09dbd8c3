/** Raw deflate with node:zlib, the fast native codec. */
import { constants, deflateRawSync, inflateRawSync } from 'node:zlib';
import { QEMU_DEFLATE, type ClusterCodec } from './codec.js';
import { inflateOneCluster } from './deflate-pako.js';
import { nodeInflater } from './node-inflater.js';

/** Output chunk room past one cluster, so that inflating a whole cluster never fills the chunk. */
const INFLATE_SLACK = 1024;

export function nodeDeflate(level: number = QEMU_DEFLATE.level): ClusterCodec {
  const options = { level, windowBits: QEMU_DEFLATE.windowBits, memLevel: QEMU_DEFLATE.memLevel };
  const inflater = nodeInflater();
  // Filling the target is the whole cluster; input past it is ignored, as qemu does.
  const decompressInto =
    inflater &&
    ((stream: Uint8Array, target: Uint8Array) => {
      const result = inflater.inflate(stream, target);
      if (typeof result === 'string') throw damaged(result);
      if (result !== target.length) throw shortStream(result, target.length);
    });
  return {
    name: 'deflate (node:zlib)',
    compress(cluster) {
      return deflateRawSync(cluster, options);
    },
    decompress: decompressInto
      ? (stream, clusterSize) => {
          const out = Buffer.allocUnsafe(clusterSize); // every byte is written, or it throws
          decompressInto(stream, out);
          return out;
        }
      : inflateCopying,
    ...(decompressInto && { decompressInto }),
  };
}

/** Where a Node lacks the native handle: inflateRawSync, then the cluster as it came. */
function inflateCopying(stream: Uint8Array, clusterSize: number): Uint8Array {
  let out: Uint8Array;
  try {
    // One output chunk with room to spare: the cluster comes back as it was inflated, never concatenated.
    out = inflateRawSync(stream, { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: clusterSize, chunkSize: clusterSize + INFLATE_SLACK });
  } catch (error) {
    // A stream that goes on past one cluster: qemu takes the first cluster, so do we.
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') return inflateOneCluster(stream, clusterSize);
    throw damaged((error as Error).message);
  }
  if (out.length !== clusterSize) throw shortStream(out.length, clusterSize);
  return out;
}

function damaged(reason: string): Error {
  return new Error(`deflate stream is damaged (${reason})`);
}

function shortStream(length: number, clusterSize: number): Error {
  return new Error(`deflate stream inflates to ${length} bytes, not a whole ${clusterSize}-byte cluster`);
}
