/**
 * Recycles buffers between a source and a sink of the same pipeline. Fresh memory costs a
 * page fault per 4 KiB on first touch, which is slower than reading from the page cache (on
 * this kind of virtual machine a gigabyte of fresh buffers costs seconds of system time);
 * reusing a few buffers avoids it.
 *
 * A buffer comes back only through `release` of a view identical to the one handed out, by a
 * sink that has finished with it. Anything else (a view that was split, a chunk a consumer
 * keeps) is simply never released and left to the garbage collector, so a pool can never hand
 * out memory someone still reads, provided whoever calls `release` is the last holder of the
 * view.
 *
 * Pools of other buffer sizes made with `sibling` share one `release`: a sink given any of
 * them gives back buffers of all of them (read buffers, inflated clusters). A buffer handed
 * out as several views comes back once every one of them has been released.
 */
/** Who handed out a buffer, and the views (byteOffset:byteLength) still out. */
type Owners = WeakMap<ArrayBuffer, { pool: BufferPool; views: Set<string> }>;

const key = (view: Uint8Array): string => `${view.byteOffset}:${view.byteLength}`;

export class BufferPool {
  private readonly free: ArrayBuffer[] = [];
  private readonly siblings = new Map<number, BufferPool>();

  constructor(
    /** Bytes per buffer: the largest view `take` can hand out. */
    readonly bufferSize: number,
    /** Buffers kept for reuse at most. */
    readonly keep = 8,
    private readonly owners: Owners = new WeakMap(),
  ) {}

  /** A pool of `bufferSize` buffers (made once per size) whose buffers come back through any sibling's `release`. */
  sibling(bufferSize: number, keep: number): BufferPool {
    if (bufferSize === this.bufferSize) return this;
    let pool = this.siblings.get(bufferSize);
    if (!pool) {
      pool = new BufferPool(bufferSize, keep, this.owners);
      pool.siblings.set(this.bufferSize, this);
      this.siblings.set(bufferSize, pool);
    }
    return pool;
  }

  /** A view of `length` bytes (at most bufferSize) of a recycled or new buffer; contents undefined. */
  take(length: number): Buffer {
    if (length > this.bufferSize) throw new RangeError(`buffer pool: ${length} is over ${this.bufferSize} bytes`);
    return this.adopt(this.takeBuffer(), length);
  }

  /** A view of `length` bytes of a recycled or new buffer, not handed out yet: `handOut` its pieces. */
  borrow(length: number): Buffer {
    if (length > this.bufferSize) throw new RangeError(`buffer pool: ${length} is over ${this.bufferSize} bytes`);
    return Buffer.from(this.takeBuffer(), 0, length);
  }

  /** A whole recycled or new buffer, not yet handed out (to be filled elsewhere, say by a worker, then `adopt`ed). */
  takeBuffer(): ArrayBuffer {
    return this.free.pop() ?? (Buffer.allocUnsafeSlow(this.bufferSize).buffer as ArrayBuffer);
  }

  /**
   * Hands out the first `length` bytes of `buffer`, one of this pool's size (a buffer that
   * went to a worker and back is a new object: it is adopted on its return).
   */
  adopt(buffer: ArrayBuffer, length: number): Buffer {
    const view = Buffer.from(buffer, 0, length);
    this.handOut(view, [view]);
    return view;
  }

  /**
   * Hands out several views of one of this pool's buffers (compressed streams read at once,
   * say): it comes back once each of them has been released.
   */
  handOut(buffer: Uint8Array, views: Uint8Array[]): void {
    if (buffer.buffer.byteLength !== this.bufferSize) throw new RangeError(`buffer pool: a ${buffer.buffer.byteLength}-byte buffer in a pool of ${this.bufferSize}`);
    this.owners.set(buffer.buffer as ArrayBuffer, { pool: this, views: new Set(views.map(key)) });
  }

  /** Gives back a view that was handed out, once nothing reads it any more. Other views are ignored. */
  release(view: Uint8Array): void {
    const buffer = view.buffer as ArrayBuffer;
    const owner = this.owners.get(buffer);
    if (!owner || !owner.views.delete(key(view)) || owner.views.size > 0) return;
    this.owners.delete(buffer);
    if (owner.pool.free.length < owner.pool.keep) owner.pool.free.push(buffer);
  }
}
