/**
 * Reads exact byte counts from an async iterable of chunks, handing out views of the chunks
 * (no copies) and keeping what is left of the current one.
 *
 * Ownership (see buffer-pool.ts): the cursor holds each chunk it reads until every byte of it
 * has been handed out, then releases it; every view it hands out holds a reference of its own,
 * which its receiver releases. Bytes joined from several chunks come in a buffer of `pool`'s.
 */
import { BufferPool, release, retain, sharedBufferPool } from './buffer-pool.js';

const EMPTY = new Uint8Array(0);

export class ByteCursor {
  private readonly iterator: AsyncIterator<Uint8Array>;
  /** The chunk being read, whose reference the cursor holds while `current` is not empty. */
  private chunk: Uint8Array | undefined;
  /** What is left of it. */
  private current: Uint8Array = EMPTY;
  private done = false;

  constructor(
    source: AsyncIterable<Uint8Array>,
    private readonly pool: BufferPool = sharedBufferPool(),
  ) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  /** Makes `current` non-empty unless the input has ended; false at the end. */
  private async load(): Promise<boolean> {
    while (this.current.length === 0) {
      if (this.done) return false;
      const step = await this.iterator.next();
      if (step.done) {
        this.done = true;
        return false;
      }
      if (step.value.length === 0) {
        release(step.value);
        continue;
      }
      this.chunk = step.value;
      this.current = step.value;
    }
    return true;
  }

  /** The next `n` bytes of the current chunk (n at most its length), as a view holding its own reference. */
  private cut(n: number): Uint8Array {
    const piece = this.current.length === n ? this.current : this.current.subarray(0, n);
    retain(piece);
    this.current = this.current.subarray(n);
    if (this.current.length === 0) this.dropChunk();
    return piece;
  }

  private dropChunk(): void {
    if (this.chunk) release(this.chunk);
    this.chunk = undefined;
    this.current = EMPTY;
  }

  /** Yields views totalling exactly `n` bytes, each holding a reference; returns the number of bytes missing if input ends first. */
  async *take(n: number): AsyncGenerator<Uint8Array, number> {
    let remaining = n;
    while (remaining > 0) {
      if (!(await this.load())) return remaining;
      const piece = this.cut(Math.min(remaining, this.current.length));
      remaining -= piece.length;
      yield piece;
    }
    return 0;
  }

  /**
   * The next `n` bytes (fewer only at end of input), holding a reference: a view of the current
   * chunk when it holds them all, otherwise joined from several chunks into a pool buffer.
   */
  async read(n: number): Promise<Uint8Array> {
    if (!(await this.load())) return EMPTY;
    if (this.current.length >= n) return this.cut(n);
    const out = this.pool.take(n);
    let filled = 0;
    for await (const piece of this.take(n)) {
      out.set(piece, filled);
      filled += piece.length;
      release(piece);
    }
    return filled === n ? out : out.subarray(0, filled);
  }

  /** Reads and drops everything left; returns how many bytes that was. */
  async skipToEnd(): Promise<number> {
    let skipped = this.current.length;
    this.dropChunk();
    while (!this.done) {
      const step = await this.iterator.next();
      if (step.done) this.done = true;
      else {
        skipped += step.value.length;
        release(step.value);
      }
    }
    return skipped;
  }

  /** True when no byte is left. */
  async atEnd(): Promise<boolean> {
    return !(await this.load());
  }

  /** Stops the underlying iterator early (lets its cleanup run) and gives back the chunk in hand. */
  async close(): Promise<void> {
    this.dropChunk();
    if (!this.done) {
      this.done = true;
      await this.iterator.return?.();
    }
  }
}
