/**
 * All-zero detection, the hot loop of the chunker. Where the runtime has Buffer, its native
 * compare against a zero block is several times faster than any JS loop.
 */

interface NativeCompare {
  compare(a: Uint8Array, b: Uint8Array): number;
}
const nativeBuffer = (globalThis as { Buffer?: NativeCompare }).Buffer;

const ZERO_BLOCK = new Uint8Array(64 * 1024);

function isZeroPortable(bytes: Uint8Array): boolean {
  let i = 0;
  const n = bytes.length;
  if (bytes.byteOffset % 4 === 0) {
    const words = new Uint32Array(bytes.buffer, bytes.byteOffset, n >>> 2);
    const m = words.length - (words.length % 8);
    for (let w = 0; w < m; w += 8) {
      if ((words[w]! | words[w + 1]! | words[w + 2]! | words[w + 3]! | words[w + 4]! | words[w + 5]! | words[w + 6]! | words[w + 7]!) !== 0) return false;
    }
    for (let w = m; w < words.length; w++) if (words[w] !== 0) return false;
    i = words.length * 4;
  }
  for (; i < n; i++) if (bytes[i] !== 0) return false;
  return true;
}

function isZeroNative(bytes: Uint8Array, compare: NativeCompare['compare']): boolean {
  for (let at = 0; at < bytes.length; at += ZERO_BLOCK.length) {
    const part = bytes.subarray(at, at + ZERO_BLOCK.length);
    if (compare(part, part.length === ZERO_BLOCK.length ? ZERO_BLOCK : ZERO_BLOCK.subarray(0, part.length)) !== 0) return false;
  }
  return true;
}

/** True when every byte is zero. */
export const isAllZero: (bytes: Uint8Array) => boolean = nativeBuffer
  ? (bytes) => isZeroNative(bytes, nativeBuffer.compare)
  : isZeroPortable;

export { isZeroPortable };
