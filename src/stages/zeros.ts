/**
 * Runs of zero bytes as chunks, all views of one shared block that nobody writes to: padding
 * and unallocated clusters cost no memory. Not pooled, so releasing them does nothing.
 */
const ZERO_CHUNK = 1024 * 1024;
const ZEROS = new Uint8Array(ZERO_CHUNK);

/** `n` zero bytes, in chunks of at most 1 MiB; a consumer must not write into them. */
export function* zeros(n: number): Generator<Uint8Array> {
  for (let left = n; left > 0; left -= ZERO_CHUNK) yield left >= ZERO_CHUNK ? ZEROS : ZEROS.subarray(0, left);
}
