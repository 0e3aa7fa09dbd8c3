/**
 * Where a streaming reader keeps bytes it met before it could use them: host clusters whose
 * role is not yet known, and data that arrived before the guest clusters ahead of it. Keyed,
 * unlike the writer's spool, because they leave in guest order, not in arrival order.
 * The Node layer adds a store that overflows into a temp file.
 *
 * Ownership (see buffer-pool.ts): `put` takes the caller's reference; `get` and `take` hand one
 * out, which the caller releases.
 */
import { LimitError } from '../errors.js';
import { BufferPool, isPooled, release, retain, sharedBufferPool } from './buffer-pool.js';

export interface KeyedStore {
  /** Bytes held now. */
  readonly size: number;
  /** Keeps `bytes` under `key`, taking the caller's reference to them. */
  put(key: string, bytes: Uint8Array): Promise<void>;
  /** The bytes under `key`, left in place; the caller releases what it gets. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** The bytes under `key`, removed; the caller releases what it gets. */
  take(key: string): Promise<Uint8Array | undefined>;
  has(key: string): boolean;
  delete(key: string): void;
  /** Drops every key for which `keep` says false. */
  keepOnly(keep: (key: string) => boolean): void;
  /** Frees memory and removes any temp file; safe to call more than once. */
  close(): Promise<void>;
}

export type KeyedStoreFactory = () => KeyedStore;

/**
 * Bytes fit to keep for a while, with the reference `bytes` held: a pooled view that fills most
 * of its buffer as it is (a cluster of a big read buffer would keep all of it alive), anything
 * else copied into a pool buffer of its own, the original released. Bytes that are not pooled
 * are always copied: their owner may reuse them.
 */
export function keepable(bytes: Uint8Array, pool: BufferPool): Uint8Array {
  if (isPooled(bytes) && 2 * bytes.byteLength >= bytes.buffer.byteLength) return bytes;
  const copy = pool.take(bytes.length);
  copy.set(bytes);
  release(bytes);
  return copy;
}

/** Everything in memory, up to `limit` bytes; past that, a LimitError. */
export class MemoryKeyedStore implements KeyedStore {
  private readonly items = new Map<string, Uint8Array>();
  size = 0;

  constructor(
    private readonly limit = Infinity,
    private readonly pool: BufferPool = sharedBufferPool(),
  ) {}

  async put(key: string, bytes: Uint8Array): Promise<void> {
    this.delete(key);
    if (this.size + bytes.length > this.limit) {
      release(bytes);
      throw new LimitError('spool memory', `bytes waiting out of order need more than ${this.limit} bytes of memory; give the reader a temp directory or a larger limit`);
    }
    this.items.set(key, keepable(bytes, this.pool));
    this.size += bytes.length;
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const bytes = this.items.get(key);
    if (bytes) retain(bytes);
    return bytes;
  }

  async take(key: string): Promise<Uint8Array | undefined> {
    const bytes = this.items.get(key);
    if (!bytes) return undefined;
    this.items.delete(key);
    this.size -= bytes.length;
    return bytes;
  }

  has(key: string): boolean {
    return this.items.has(key);
  }

  delete(key: string): void {
    const bytes = this.items.get(key);
    if (bytes) {
      this.size -= bytes.length;
      this.items.delete(key);
      release(bytes);
    }
  }

  keepOnly(keep: (key: string) => boolean): void {
    for (const key of [...this.items.keys()]) if (!keep(key)) this.delete(key);
  }

  async close(): Promise<void> {
    for (const bytes of this.items.values()) release(bytes);
    this.items.clear();
    this.size = 0;
  }
}
