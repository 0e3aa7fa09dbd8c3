/**
 * A spool holds bytes that arrive before they can be emitted and gives them back once, in
 * order. This file has the interface and the in-memory spool; the Node layer adds one that
 * overflows into a temp file.
 */
import { LimitError } from '../errors.js';
import { ownedCopy } from './bytes.js';

export interface Spool {
  /** Bytes written so far. */
  readonly size: number;
  /** Appends bytes; the spool may keep `bytes` by reference, so the caller must not change them. */
  write(bytes: Uint8Array): Promise<void>;
  /** Gives back everything written, in order; call once, after the last write. */
  read(): AsyncIterable<Uint8Array>;
  /** Frees memory and removes any temp file. Safe to call more than once, and on every exit path. */
  close(): Promise<void>;
}

export type SpoolFactory = () => Spool | Promise<Spool>;


/** Holds everything in memory, up to `limit` bytes; past that, a LimitError. */
export class MemorySpool implements Spool {
  private chunks: Uint8Array[] = [];
  size = 0;

  constructor(private readonly limit = Infinity) {}

  async write(bytes: Uint8Array): Promise<void> {
    if (this.size + bytes.length > this.limit) {
      throw new LimitError('spool memory', `the spool needs more than ${this.limit} bytes of memory; give it a temp directory or a larger limit`);
    }
    this.chunks.push(ownedCopy(bytes));
    this.size += bytes.length;
  }

  async *read(): AsyncGenerator<Uint8Array> {
    const chunks = this.chunks;
    this.chunks = [];
    for (let i = 0; i < chunks.length; i++) {
      const chunk = chunks[i]!;
      chunks[i] = EMPTY;
      yield chunk;
    }
  }

  async close(): Promise<void> {
    this.chunks = [];
  }
}

const EMPTY = new Uint8Array(0);
