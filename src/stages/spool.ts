/**
 * A spool holds bytes that arrive before they can be emitted and gives them back once, in
 * order. This file has the interface, the pooled slabs a spool keeps in memory, and the
 * in-memory spool; the Node layer adds one that overflows into a temp file.
 *
 * Ownership (see buffer-pool.ts): `write` copies, so the caller keeps (and releases) its
 * reference; each chunk `read` yields holds a reference its receiver releases.
 */
import { LimitError } from '../errors.js';
import { BufferPool, release, sharedBufferPool } from './buffer-pool.js';

export interface Spool {
  /** Bytes written so far. */
  readonly size: number;
  /** Appends a copy of `bytes`. */
  write(bytes: Uint8Array): Promise<void>;
  /** Gives back everything written, in order; call once, after the last write. */
  read(): AsyncIterable<Uint8Array>;
  /** Frees memory and removes any temp file. Safe to call more than once, and on every exit path. */
  close(): Promise<void>;
}

export type SpoolFactory = () => Spool | Promise<Spool>;

/** Memory is taken from the pool in slabs of this size and filled by copying: nothing is allocated per write. */
export const SLAB = 1024 * 1024;

/** Bytes copied into pooled slabs, up to `limit`, handed back in order. */
export class Slabs {
  private slabs: Uint8Array[] = [];
  /** Bytes in the last slab. */
  private fill = 0;
  size = 0;

  constructor(
    private readonly limit: number,
    private readonly pool: BufferPool,
  ) {}

  /** Bytes still to take before the limit. */
  get room(): number {
    return this.limit - this.size;
  }

  /** Copies as much of `bytes` as the limit leaves room for; returns how many bytes that was. */
  add(bytes: Uint8Array): number {
    let at = 0;
    while (at < bytes.length && this.size < this.limit) {
      let slab = this.slabs.at(-1);
      if (!slab || this.fill === slab.length) {
        slab = this.pool.take(Math.min(SLAB, this.limit - this.size));
        this.slabs.push(slab);
        this.fill = 0;
      }
      const take = Math.min(bytes.length - at, slab.length - this.fill);
      slab.set(bytes.subarray(at, at + take), this.fill);
      this.fill += take;
      this.size += take;
      at += take;
    }
    return at;
  }

  /** Hands out every slab in order, each holding its reference, and empties this. */
  *drain(): Generator<Uint8Array> {
    const slabs = this.slabs;
    const fill = this.fill;
    this.slabs = [];
    this.size = 0;
    let i = 0;
    try {
      for (; i < slabs.length; i++) {
        const slab = slabs[i]!;
        slabs[i] = EMPTY;
        yield i === slabs.length - 1 ? slab.subarray(0, fill) : slab;
      }
    } finally {
      // Stopped early: what was not handed out goes back.
      for (; i < slabs.length; i++) release(slabs[i]!);
    }
  }

  /** Gives every slab back. */
  clear(): void {
    for (const slab of this.slabs) release(slab);
    this.slabs = [];
    this.size = 0;
  }
}

const EMPTY = new Uint8Array(0);

/** Holds everything in memory, up to `limit` bytes; past that, a LimitError. */
export class MemorySpool implements Spool {
  private readonly slabs: Slabs;

  constructor(
    private readonly limit = Infinity,
    pool: BufferPool = sharedBufferPool(),
  ) {
    this.slabs = new Slabs(limit, pool);
  }

  get size(): number {
    return this.slabs.size;
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (this.slabs.size + bytes.length > this.limit) {
      throw new LimitError('spool memory', `the spool needs more than ${this.limit} bytes of memory; give it a temp directory or a larger limit`);
    }
    this.slabs.add(bytes);
  }

  async *read(): AsyncGenerator<Uint8Array> {
    yield* this.slabs.drain();
  }

  async close(): Promise<void> {
    this.slabs.clear();
  }
}
