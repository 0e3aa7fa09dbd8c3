/**
 * zstd (compression_type 1), decode only: one or more frames per cluster, then possibly
 * unrelated bytes up to the sector boundary, which are ignored once a whole cluster has come
 * out (as qemu does). Frames are decoded by libzstd itself, compiled to WebAssembly (the
 * zstddec package), so damage is refused exactly where qemu, which links libzstd, refuses
 * it: a JavaScript decoder we used before filled an offset reaching before the start of the
 * output with zeros, where libzstd reports corruption (found by the fuzzer).
 *
 * The WebAssembly module is compiled asynchronously: `ready()` must have resolved before
 * the first `decompress`.
 */
import { UnsupportedError } from '../errors.js';
import type { ZSTDDecoder } from 'zstddec';
import type { ClusterCodec } from './codec.js';

let decoder: ZSTDDecoder | undefined;
let loading: Promise<void> | undefined;
let loaded = false;

/** Loads and compiles the decoder the first time it is needed: most conversions never meet zstd, and its 75 KB module costs startup. */
function loadDecoder(): Promise<void> {
  loading ??= import('zstddec').then(async ({ ZSTDDecoder }) => {
    const fresh = new ZSTDDecoder();
    await fresh.init();
    decoder = fresh;
    loaded = true;
  });
  return loading;
}

const FRAME_MAGIC = 0xfd2fb528;
const SKIPPABLE_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;

function u32le(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
}

/** Length of the frame (or skippable frame) at `at`, or -1 if the bytes there are not one. */
export function zstdFrameLength(bytes: Uint8Array, at: number): number {
  if (at + 4 > bytes.length) return -1;
  const magic = u32le(bytes, at);
  if ((magic & SKIPPABLE_MASK) >>> 0 === SKIPPABLE_MAGIC) {
    if (at + 8 > bytes.length) return -1;
    return 8 + u32le(bytes, at + 4);
  }
  if (magic !== FRAME_MAGIC) return -1;
  let p = at + 4;
  if (p >= bytes.length) return -1;
  const descriptor = bytes[p++]!;
  const singleSegment = (descriptor >> 5) & 1;
  const checksum = (descriptor >> 2) & 1;
  const dictionaryIdBytes = [0, 1, 2, 4][descriptor & 3]!;
  const contentSizeFlag = descriptor >> 6;
  const contentSizeBytes = contentSizeFlag === 0 ? singleSegment : [1, 2, 4, 8][contentSizeFlag]!;
  p += (singleSegment ? 0 : 1) + dictionaryIdBytes + contentSizeBytes;
  for (;;) {
    if (p + 3 > bytes.length) return -1;
    const header = bytes[p]! | (bytes[p + 1]! << 8) | (bytes[p + 2]! << 16);
    const last = header & 1;
    const type = (header >> 1) & 3;
    const size = header >>> 3;
    p += 3 + (type === 1 ? 1 : size); // an RLE block stores one byte
    if (type === 3) return -1;
    if (last) break;
  }
  p += checksum ? 4 : 0;
  return p > bytes.length ? -1 : p - at;
}

/** The frame's declared content size, or undefined when the header leaves it out. */
function frameContentSize(bytes: Uint8Array, at: number): number | undefined {
  const descriptor = bytes[at + 4]!;
  const singleSegment = (descriptor >> 5) & 1;
  const flag = descriptor >> 6;
  const size = flag === 0 ? singleSegment : [1, 2, 4, 8][flag]!;
  if (size === 0) return undefined;
  let p = at + 5 + (singleSegment ? 0 : 1) + [0, 1, 2, 4][descriptor & 3]!;
  let value = 0;
  for (let i = 0; i < size; i++) value += bytes[p++]! * 2 ** (8 * i);
  return size === 2 ? value + 256 : value;
}

/** One frame through libzstd: exactly its content, which must fit in `room` bytes. */
function decodeFrame(frame: Uint8Array, room: number): Uint8Array {
  const declared = frameContentSize(frame, 0);
  if (declared !== undefined && declared > room) throw new Error('zstd stream inflates to more than one cluster');
  // zstddec hands back nothing when libzstd reports an error (its return is then negative).
  const out = decoder!.decode(frame, declared ?? room); // ready() came first (see decompress)
  if (declared !== undefined ? out.length !== declared : out.length === 0 || out.length > room) {
    throw new Error('zstd stream is damaged (libzstd refused a frame)');
  }
  return out;
}

export function zstdCodec(): ClusterCodec {
  return {
    name: 'zstd (libzstd, WebAssembly)',
    ready: loadDecoder,
    compress() {
      throw new UnsupportedError('zstd compression', 'writing zstd-compressed clusters is not supported');
    },
    decompress(stream, clusterSize) {
      if (!loaded) throw new Error('internal: the zstd decoder is used before ready() resolved');
      const out = new Uint8Array(clusterSize);
      let produced = 0;
      let at = 0;
      while (produced < clusterSize) {
        const length = zstdFrameLength(stream, at);
        if (length < 0) throw new Error(`zstd stream ends after ${produced} of ${clusterSize} bytes`);
        if (u32le(stream, at) === FRAME_MAGIC) {
          const frame = decodeFrame(stream.subarray(at, at + length), clusterSize - produced);
          out.set(frame, produced);
          produced += frame.length;
        }
        at += length;
      }
      return out;
    },
  };
}
