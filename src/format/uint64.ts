/**
 * Big-endian 64-bit fields as JS numbers, read and written as two 32-bit halves.
 *
 * Offsets and sizes in qcow2 are 64-bit; JS numbers are exact up to 2^53, and bitwise
 * operators would cut them to 32 bits. So an offset is only ever split with division and
 * remainder, and flags are applied to the high half, which is a 32-bit field of its own.
 */

export const TWO_POW_32 = 0x1_0000_0000;

/** The high 32 bits of a non-negative integer below 2^64. */
export function high32(value: number): number {
  return Math.floor(value / TWO_POW_32);
}

/** The low 32 bits of a non-negative integer below 2^64. */
export function low32(value: number): number {
  return value % TWO_POW_32;
}

/** Reads an unsigned 64-bit big-endian integer; returns undefined if it does not fit in 2^53. */
export function readUint64(view: DataView, offset: number): number | undefined {
  const hi = view.getUint32(offset);
  const lo = view.getUint32(offset + 4);
  if (hi >= 0x200000) return undefined;
  return hi * TWO_POW_32 + lo;
}

/** Writes a non-negative safe integer as an unsigned 64-bit big-endian field. */
export function writeUint64(view: DataView, offset: number, value: number): void {
  view.setUint32(offset, high32(value));
  view.setUint32(offset + 4, low32(value));
}

/** Reads a 64-bit big-endian bit field as a bigint (feature bitmaps). */
export function readBits64(view: DataView, offset: number): bigint {
  return view.getBigUint64(offset);
}

/** Writes a 64-bit bit field from a bigint. */
export function writeBits64(view: DataView, offset: number, value: bigint): void {
  view.setBigUint64(offset, value);
}

export function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Integer ceiling division for non-negative safe integers (exact even where a / b rounds). */
export function divCeil(a: number, b: number): number {
  const q = Math.floor(a / b);
  return q * b < a ? q + 1 : q;
}

/** Rounds a non-negative safe integer up to a multiple of `step`. */
export function roundUp(value: number, step: number): number {
  return divCeil(value, step) * step;
}
