/**
 * Chunks of any size copied into whole pool buffers, handed on in order, each holding its
 * reference (see buffer-pool.ts); the last may be short. For sources whose runtime hands out
 * small chunks of its own memory (an HTTP body, say): the copy is cheap next to what follows, and
 * downstream gets chunks aligned to every cluster size up to `size`, and a release that works.
 */
import { BufferPool, release, sharedBufferPool } from './buffer-pool.js';

export async function* rechunk(chunks: AsyncIterable<Uint8Array>, size = 1024 * 1024, pool: BufferPool = sharedBufferPool()): AsyncGenerator<Uint8Array> {
  let current: Uint8Array | undefined;
  let filled = 0;
  try {
    for await (const chunk of chunks) {
      for (let at = 0; at < chunk.length; ) {
        current ??= pool.take(size);
        const take = Math.min(chunk.length - at, size - filled);
        current.set(chunk.subarray(at, at + take), filled);
        filled += take;
        at += take;
        if (filled < size) continue;
        const full = current;
        current = undefined;
        filled = 0;
        yield full;
      }
      release(chunk);
    }
    if (current && filled > 0) {
      const last = current.subarray(0, filled);
      current = undefined;
      yield last;
    }
  } finally {
    if (current) release(current);
  }
}
