/**
 * Where a streaming reader keeps bytes it met before it could use them: host clusters whose
 * role is not yet known, and data that arrived before the guest clusters ahead of it. Keyed,
 * unlike the writer's spool, because they leave in guest order, not in arrival order.
 * The Node layer adds a store that overflows into a temp file.
 */
import { LimitError } from '../errors.js';

export interface KeyedStore {
  /** Bytes held now. */
  readonly size: number;
  put(key: string, bytes: Uint8Array): Promise<void>;
  /** The bytes under `key`, left in place. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** The bytes under `key`, removed. */
  take(key: string): Promise<Uint8Array | undefined>;
  has(key: string): boolean;
  delete(key: string): void;
  /** Drops every key for which `keep` says false. */
  retain(keep: (key: string) => boolean): void;
  /** Frees memory and removes any temp file; safe to call more than once. */
  close(): Promise<void>;
}

export type KeyedStoreFactory = () => KeyedStore;

/** Everything in memory, up to `limit` bytes; past that, a LimitError. */
export class MemoryKeyedStore implements KeyedStore {
  private readonly items = new Map<string, Uint8Array>();
  size = 0;

  constructor(private readonly limit = Infinity) {}

  async put(key: string, bytes: Uint8Array): Promise<void> {
    this.delete(key);
    if (this.size + bytes.length > this.limit) {
      throw new LimitError('spool memory', `bytes waiting out of order need more than ${this.limit} bytes of memory; give the reader a temp directory or a larger limit`);
    }
    this.items.set(key, bytes);
    this.size += bytes.length;
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    return this.items.get(key);
  }

  async take(key: string): Promise<Uint8Array | undefined> {
    const bytes = this.items.get(key);
    this.delete(key);
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
    }
  }

  retain(keep: (key: string) => boolean): void {
    for (const key of [...this.items.keys()]) if (!keep(key)) this.delete(key);
  }

  async close(): Promise<void> {
    this.items.clear();
    this.size = 0;
  }
}
