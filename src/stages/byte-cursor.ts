/**
 * Reads exact byte counts from an async iterable of chunks, handing out views of the chunks
 * (no copies) and keeping what is left of the current one.
 */
export class ByteCursor {
  private readonly iterator: AsyncIterator<Uint8Array>;
  private current: Uint8Array = new Uint8Array(0);
  private done = false;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  /** Yields views totalling exactly `n` bytes; returns the number of bytes missing if input ends first. */
  async *take(n: number): AsyncGenerator<Uint8Array, number> {
    let remaining = n;
    while (remaining > 0) {
      if (this.current.length === 0) {
        if (this.done) return remaining;
        const step = await this.iterator.next();
        if (step.done) {
          this.done = true;
          return remaining;
        }
        this.current = step.value;
        continue;
      }
      const piece = this.current.length <= remaining ? this.current : this.current.subarray(0, remaining);
      this.current = this.current.subarray(piece.length);
      remaining -= piece.length;
      yield piece;
    }
    return 0;
  }

  /**
   * The next `n` bytes (fewer only at end of input): a view of the current chunk when it holds
   * them all, otherwise a copy joined from several chunks.
   */
  async read(n: number): Promise<Uint8Array> {
    await this.atEnd(); // loads a chunk if none is current
    if (this.current.length >= n) {
      const piece = this.current.subarray(0, n);
      this.current = this.current.subarray(n);
      return piece;
    }
    const out = new Uint8Array(n);
    let filled = 0;
    for await (const piece of this.take(n)) {
      out.set(piece, filled);
      filled += piece.length;
    }
    return filled === n ? out : out.subarray(0, filled);
  }

  /** Reads and drops everything left; returns how many bytes that was. */
  async skipToEnd(): Promise<number> {
    let skipped = this.current.length;
    this.current = new Uint8Array(0);
    while (!this.done) {
      const step = await this.iterator.next();
      if (step.done) this.done = true;
      else skipped += step.value.length;
    }
    return skipped;
  }

  /** True when no byte is left. */
  async atEnd(): Promise<boolean> {
    while (this.current.length === 0 && !this.done) {
      const step = await this.iterator.next();
      if (step.done) this.done = true;
      else this.current = step.value;
    }
    return this.current.length === 0;
  }

  /** Stops the underlying iterator early (lets its cleanup run). */
  async close(): Promise<void> {
    if (!this.done) {
      this.done = true;
      await this.iterator.return?.();
    }
  }
}
