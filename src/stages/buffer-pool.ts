/**
 * Pooled buffers, and who gives them back. Fresh memory costs a page fault per 4 KiB the first
 * time it is touched, which on the virtual machines we run on is several times slower than
 * reading the same bytes from the page cache; a buffer used again costs nothing. So bytes travel
 * from a source's read to a sink's write in buffers that come back here.
 *
 * The rule, for every stage and sink: a pooled buffer counts its references, one per holder.
 * Whoever `take`s a buffer holds the first. A holder either hands its reference on (in a record
 * or a chunk it passes downstream, whose receiver now holds it), or gives it back with
 * `release` once it no longer reads the bytes. A holder that hands several views of one buffer
 * downstream `retain`s one more reference for each view beyond its own. A stage that keeps bytes
 * for later copies them into storage it owns and releases the original, or keeps the reference.
 * When the count reaches zero the buffer goes back to its pool, to be handed out again.
 *
 * `release` and `retain` take any view of the buffer and do nothing to bytes that are not
 * pooled (a user's chunk, a shared block of zeros), so a stage can give back whatever it is done
 * with without asking where it came from. Releasing a buffer whose references are all given back
 * throws: carrying on would hand out memory that someone still reads. A buffer that is never
 * released is only a lost chance: the garbage collector takes it and the pool makes another.
 */

/** Buffers come in powers of two from this size... */
const MIN_CLASS_BITS = 12;
/** ...to this one; a larger request gets memory of its own, not pooled. */
const MAX_CLASS_BITS = 23;

/** Bytes of free buffers a pool keeps, all sizes together, by default. */
export const DEFAULT_KEEP_BYTES = 64 * 1024 * 1024;

interface Lease {
  pool: BufferPool;
  refs: number;
}

/** Every pooled buffer there is, whichever pool made it. */
const leases = new WeakMap<ArrayBufferLike, Lease>();

export class BufferReleaseError extends Error {
  constructor() {
    super('internal: a pooled buffer was released more times than it was handed out');
    this.name = 'BufferReleaseError';
  }
}

/** Gives back one reference to the buffer under `bytes` (any view of it); nothing for bytes that are not pooled. */
export function release(bytes: Uint8Array): void {
  const lease = leases.get(bytes.buffer);
  if (!lease) return;
  if (lease.refs <= 0) throw new BufferReleaseError();
  if (--lease.refs === 0) lease.pool.giveBack(bytes.buffer as ArrayBuffer);
}

/** Adds `count` references to the buffer under `bytes`, for views of it handed to more holders. */
export function retain(bytes: Uint8Array, count = 1): void {
  const lease = leases.get(bytes.buffer);
  if (!lease) return;
  if (lease.refs <= 0) throw new BufferReleaseError();
  lease.refs += count;
}

/** Whether `bytes` lies in a pooled buffer that is handed out. */
export function isPooled(bytes: Uint8Array): boolean {
  return (leases.get(bytes.buffer)?.refs ?? 0) > 0;
}

export interface BufferPoolOptions {
  /** Bytes of free buffers kept for reuse, all sizes together. Default 64 MiB. */
  keepBytes?: number;
}

export interface BufferPoolStats {
  /** Buffers handed out since the pool was made (new or reused). */
  taken: number;
  /** Of those, how many came back. */
  returned: number;
  /** Buffers allocated, as opposed to reused. */
  allocated: number;
  /** Bytes of free buffers kept now. */
  keptBytes: number;
}

function classBits(length: number): number {
  return Math.max(MIN_CLASS_BITS, Math.ceil(Math.log2(Math.max(1, length))));
}

/** Memory that is not zeroed where the runtime can give it (Node's Buffer), zeroed otherwise. */
function allocate(size: number): ArrayBuffer {
  const buffer = (globalThis as { Buffer?: { allocUnsafeSlow(size: number): Uint8Array } }).Buffer;
  return (buffer ? buffer.allocUnsafeSlow(size).buffer : new ArrayBuffer(size)) as ArrayBuffer;
}

export class BufferPool {
  private readonly free = new Map<number, ArrayBuffer[]>();
  private readonly keepBytes: number;
  private keptBytes = 0;
  private taken = 0;
  private returned = 0;
  private allocated = 0;
  /** With `trackLeaks`: where each buffer still out was taken. */
  private origins: Map<ArrayBuffer, string> | undefined;

  constructor(options: BufferPoolOptions = {}) {
    this.keepBytes = options.keepBytes ?? DEFAULT_KEEP_BYTES;
  }

  /** The largest length `take` pools; past it, memory of its own. */
  static readonly MAX_POOLED = 2 ** MAX_CLASS_BITS;

  /** A view of the first `length` bytes of a pooled buffer, holding its one reference; contents undefined. */
  take(length: number): Uint8Array {
    if (length > BufferPool.MAX_POOLED) return new Uint8Array(allocate(length));
    return this.adopt(this.takeBuffer(length), length);
  }

  /**
   * A whole buffer able to hold `length` bytes, handed out but not yet a reference: for memory
   * that travels to a worker thread and back (a transferred buffer returns as a new object), to
   * be `adopt`ed on its return.
   */
  takeBuffer(length: number): ArrayBuffer {
    if (length > BufferPool.MAX_POOLED) throw new RangeError(`buffer pool: ${length} bytes is over the largest pooled size`);
    const bits = classBits(length);
    const buffer = this.free.get(bits)?.pop();
    this.taken++;
    if (buffer) {
      this.keptBytes -= buffer.byteLength;
      this.origins?.set(buffer, new Error('taken here').stack ?? '');
      return buffer;
    }
    this.allocated++;
    const fresh = allocate(2 ** bits);
    this.origins?.set(fresh, new Error('taken here').stack ?? '');
    return fresh;
  }

  /** The first `length` bytes of `buffer` (from `takeBuffer`, possibly back from a worker) as a view holding its one reference. */
  adopt(buffer: ArrayBuffer, length: number): Uint8Array {
    if (2 ** classBits(buffer.byteLength) !== buffer.byteLength || length > buffer.byteLength) {
      throw new RangeError(`buffer pool: a ${buffer.byteLength}-byte buffer cannot hold ${length} bytes of a pool's`);
    }
    const lease = leases.get(buffer);
    if (lease && lease.refs > 0) throw new RangeError('buffer pool: adopting a buffer that is still handed out');
    if (lease) {
      lease.pool = this;
      lease.refs = 1;
    } else leases.set(buffer, { pool: this, refs: 1 });
    if (this.origins && !this.origins.has(buffer)) this.origins.set(buffer, new Error('adopted here').stack ?? '');
    return new Uint8Array(buffer, 0, length);
  }

  /** Called by `release` when the last reference is given back. */
  giveBack(buffer: ArrayBuffer): void {
    this.returned++;
    this.origins?.delete(buffer);
    if (this.keptBytes + buffer.byteLength > this.keepBytes) return;
    const bits = Math.log2(buffer.byteLength);
    let list = this.free.get(bits);
    if (!list) this.free.set(bits, (list = []));
    list.push(buffer);
    this.keptBytes += buffer.byteLength;
  }

  /** A buffer from `takeBuffer` that will never come back (its worker died): no longer counted as out. */
  forget(count = 1): void {
    this.returned += count;
  }

  stats(): BufferPoolStats {
    return { taken: this.taken, returned: this.returned, allocated: this.allocated, keptBytes: this.keptBytes };
  }

  /** Buffers handed out and not yet given back. */
  get outstanding(): number {
    return this.taken - this.returned;
  }

  /** From now on, remember where each buffer handed out was taken, for `leaks`. Costs a stack trace per take. */
  trackLeaks(): void {
    this.origins ??= new Map();
  }

  /** Where the buffers still out were taken (with `trackLeaks`). */
  leaks(): string[] {
    return [...(this.origins?.values() ?? [])];
  }
}

let shared: BufferPool | undefined;

/** The process's pool: what every stage and sink takes from unless given another. */
export function sharedBufferPool(): BufferPool {
  return (shared ??= new BufferPool());
}
