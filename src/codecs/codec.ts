/**
 * Compression codecs behind one small interface. A codec turns one cluster into a compressed
 * stream and back; "back" must yield exactly one cluster or fail. The node layer supplies
 * node:zlib; pako is the portable default.
 */
import { Qcow2StreamError } from '../errors.js';

export interface ClusterCodec {
  readonly name: string;
  /** The compressed stream of one cluster. */
  compress(cluster: Uint8Array): Uint8Array;
  /**
   * Exactly `clusterSize` bytes from a compressed stream that may be followed by unrelated
   * bytes (the descriptor rounds to sectors). Throws when the stream gives fewer.
   */
  decompress(stream: Uint8Array, clusterSize: number): Uint8Array;
  /** As decompress, into `target` (one cluster long), where a codec can do so without a copy. */
  decompressInto?(stream: Uint8Array, target: Uint8Array): void;
  /** Resolves once the codec can be used (one backed by WebAssembly compiles it first). */
  ready?(): Promise<void>;
}

/** qemu's deflate settings: raw deflate, a 4 KiB window (qemu inflates with 12 bits), level 6, memLevel 9. */
export const QEMU_DEFLATE = { windowBits: 12, level: 6, memLevel: 9 } as const;

/**
 * A codec could not do its work: a stream that would not compress or inflate, or a codec
 * worker that died. Where a stream is damaged, the decompress stage reports it as a
 * FormatError naming the guest cluster instead.
 */
export class CodecError extends Qcow2StreamError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_QCOW2_CODEC', message, options);
  }
}
