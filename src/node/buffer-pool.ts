/**
 * Recycles read buffers between a source and a sink of the same pipeline. Fresh memory costs
 * a page fault per 4 KiB on first touch, which is slower than reading from the page cache;
 * reusing a few buffers avoids it.
 *
 * A buffer comes back only through `release` of a view identical to the one `take` handed
 * out, by a sink that has finished with it. Anything else (a view that was split, a chunk a
 * consumer keeps) is simply never released and left to the garbage collector, so a pool can
 * never hand out memory someone still reads, provided whoever calls `release` is the last
 * holder of the view.
 */
export class BufferPool {
  private readonly free: ArrayBuffer[] = [];
  private readonly handedOut = new WeakMap<ArrayBuffer, number>();

  constructor(
    /** Bytes per buffer: the largest view `take` can hand out. */
    readonly bufferSize: number,
    /** Buffers kept for reuse at most. */
    readonly keep = 8,
  ) {}

  /** A view of `length` bytes (at most bufferSize) of a recycled or new buffer; contents undefined. */
  take(length: number): Buffer {
    if (length > this.bufferSize) throw new RangeError(`buffer pool: ${length} is over ${this.bufferSize} bytes`);
    const buffer = this.free.pop() ?? Buffer.allocUnsafeSlow(this.bufferSize).buffer;
    this.handedOut.set(buffer, length);
    return Buffer.from(buffer, 0, length);
  }

  /** Gives back a view that `take` handed out, once nothing reads it any more. Other views are ignored. */
  release(view: Uint8Array): void {
    const buffer = view.buffer as ArrayBuffer;
    if (view.byteOffset !== 0 || this.handedOut.get(buffer) !== view.byteLength) return;
    this.handedOut.delete(buffer);
    if (this.free.length < this.keep) this.free.push(buffer);
  }
}
