/**
 * Compression codecs behind one small interface. A codec turns one cluster into a compressed
 * stream and back; "back" must yield exactly one cluster or fail. The node layer supplies
 * node:zlib; pako is the portable default.
 */
export interface ClusterCodec {
  readonly name: string;
  /** The compressed stream of one cluster. */
  compress(cluster: Uint8Array): Uint8Array;
  /**
   * Exactly `clusterSize` bytes from a compressed stream that may be followed by unrelated
   * bytes (the descriptor rounds to sectors). Throws when the stream gives fewer.
   */
  decompress(stream: Uint8Array, clusterSize: number): Uint8Array;
  /** Resolves once the codec can be used (one backed by WebAssembly compiles it first). */
  ready?(): Promise<void>;
}

/** qemu's deflate settings: raw deflate, a 4 KiB window (qemu inflates with 12 bits), level 6, memLevel 9. */
export const QEMU_DEFLATE = { windowBits: 12, level: 6, memLevel: 9 } as const;

export class CodecError extends Error {}
