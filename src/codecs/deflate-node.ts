/** Raw deflate with node:zlib, the fast native codec. */
import { constants, deflateRawSync, inflateRawSync } from 'node:zlib';
import { QEMU_DEFLATE, type ClusterCodec } from './codec.js';
import { inflateOneCluster } from './deflate-pako.js';

/** Output chunk room past one cluster, so that inflating a whole cluster never fills the chunk. */
const INFLATE_SLACK = 1024;

export function nodeDeflate(level: number = QEMU_DEFLATE.level): ClusterCodec {
  const options = { level, windowBits: QEMU_DEFLATE.windowBits, memLevel: QEMU_DEFLATE.memLevel };
  return {
    name: 'deflate (node:zlib)',
    compress(cluster) {
      return deflateRawSync(cluster, options);
    },
    decompress(stream, clusterSize) {
      let out: Uint8Array;
      try {
        // One output chunk with room to spare: the cluster comes back as it was inflated, never concatenated.
        out = inflateRawSync(stream, { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: clusterSize, chunkSize: clusterSize + INFLATE_SLACK });
      } catch (error) {
        // A stream that goes on past one cluster: qemu takes the first cluster, so do we.
        if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') return inflateOneCluster(stream, clusterSize);
        throw new Error(`deflate stream is damaged (${(error as Error).message})`);
      }
      if (out.length !== clusterSize) throw new Error(`deflate stream inflates to ${out.length} bytes, not a whole ${clusterSize}-byte cluster`);
      return out;
    },
  };
}
