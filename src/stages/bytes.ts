/**
 * Copying bytes. `slice()` will not do: on a Node Buffer (a Uint8Array subclass that many
 * sources hand out) it returns a view, not a copy.
 */

/** A copy of `bytes[from, to)` in a buffer of its own. */
export function copyBytes(bytes: Uint8Array, from = 0, to = bytes.length): Uint8Array {
  const copy = new Uint8Array(to - from);
  copy.set(bytes.subarray(from, to));
  return copy;
}

/** `bytes` itself when it owns its whole buffer, else a copy: safe to keep for a long time. */
export function ownedCopy(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : copyBytes(bytes);
}
