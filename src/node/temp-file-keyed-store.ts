/**
 * A keyed store that keeps up to `memoryLimit` bytes in memory and the rest in a temp file,
 * unlinked as soon as it is created (nothing is left behind on any exit). Freed slots are
 * reused for items of the same length (most are one cluster), so the file grows with what
 * waits at once, not with everything that ever waited. Ownership as for every KeyedStore: `put`
 * takes the caller's reference, `get` and `take` hand one out (read back into a pool buffer).
 */
import type { FileHandle } from 'node:fs/promises';
import { LimitError } from '../errors.js';
import { BufferPool, release, retain, sharedBufferPool } from '../stages/buffer-pool.js';
import { keepable, type KeyedStore } from '../stages/keyed-store.js';
import { ioError } from './io-error.js';
import { createUnlinkedTempFile } from './unlinked-temp-file.js';
import { readFully, writeChunks } from './positional-io.js';
import { shortSpoolFile } from './spool-file.js';
import { resolveSpoolOptions, type TempFileSpoolOptions } from './temp-file-spool.js';

interface Slot {
  at: number;
  length: number;
}

export class TempFileKeyedStore implements KeyedStore {
  private readonly memory = new Map<string, Uint8Array>();
  private memorySize = 0;
  private readonly onDisk = new Map<string, Slot>();
  private readonly freeSlots = new Map<number, number[]>();
  private file: FileHandle | undefined;
  private fileEnd = 0;
  private diskUsed = 0;
  private readonly memoryLimit: number;
  private readonly tempDir: string;
  private readonly diskLimit: number;
  private readonly pool: BufferPool;

  constructor(options: TempFileSpoolOptions = {}) {
    ({ memoryLimit: this.memoryLimit, tempDir: this.tempDir, diskLimit: this.diskLimit } = resolveSpoolOptions(options));
    this.pool = options.pool ?? sharedBufferPool();
  }

  get size(): number {
    return this.memorySize + this.diskUsed;
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    this.delete(key);
    if (this.memorySize + bytes.length <= this.memoryLimit) {
      this.memory.set(key, keepable(bytes, this.pool));
      this.memorySize += bytes.length;
      return;
    }
    try {
      await this.write(key, bytes);
    } finally {
      release(bytes);
    }
  }

  private async write(key: string, bytes: Uint8Array): Promise<void> {
    if (this.diskUsed + bytes.length > this.diskLimit) {
      throw new LimitError('spool disk', `bytes waiting out of order need more than ${this.diskLimit} bytes of temp file space (spoolDisk, --spool-disk)`);
    }
    this.file ??= await createUnlinkedTempFile(this.tempDir);
    const free = this.freeSlots.get(bytes.length);
    const at = free?.pop() ?? this.fileEnd;
    if (at === this.fileEnd) this.fileEnd += bytes.length;
    try {
      let written = 0;
      while (written < bytes.length) written += await writeChunks(this.file.fd, [bytes.subarray(written)], at + written);
    } catch (error) {
      throw ioError(error, 'write the spool file in', this.tempDir);
    }
    this.onDisk.set(key, { at, length: bytes.length });
    this.diskUsed += bytes.length;
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const inMemory = this.memory.get(key);
    if (inMemory) {
      retain(inMemory);
      return inMemory;
    }
    const slot = this.onDisk.get(key);
    if (!slot || !this.file) return undefined;
    const bytes = this.pool.take(slot.length);
    try {
      if ((await readFully(this.file.fd, bytes, slot.length, slot.at)) !== slot.length) throw shortSpoolFile(this.tempDir);
    } catch (error) {
      release(bytes);
      throw ioError(error, 'read the spool file in', this.tempDir);
    }
    return bytes;
  }

  async take(key: string): Promise<Uint8Array | undefined> {
    const inMemory = this.memory.get(key);
    if (inMemory) {
      this.memory.delete(key);
      this.memorySize -= inMemory.length;
      return inMemory;
    }
    const bytes = await this.get(key);
    this.delete(key);
    return bytes;
  }

  has(key: string): boolean {
    return this.memory.has(key) || this.onDisk.has(key);
  }

  delete(key: string): void {
    const inMemory = this.memory.get(key);
    if (inMemory) {
      this.memory.delete(key);
      this.memorySize -= inMemory.length;
      release(inMemory);
      return;
    }
    const slot = this.onDisk.get(key);
    if (!slot) return;
    this.onDisk.delete(key);
    this.diskUsed -= slot.length;
    const list = this.freeSlots.get(slot.length);
    if (list) list.push(slot.at);
    else this.freeSlots.set(slot.length, [slot.at]);
  }

  keepOnly(keep: (key: string) => boolean): void {
    for (const key of [...this.memory.keys(), ...this.onDisk.keys()]) if (!keep(key)) this.delete(key);
  }

  async close(): Promise<void> {
    for (const bytes of this.memory.values()) release(bytes);
    this.memory.clear();
    this.onDisk.clear();
    this.freeSlots.clear();
    this.memorySize = 0;
    this.diskUsed = 0;
    const file = this.file;
    this.file = undefined;
    await file?.close();
  }

}

export function tempFileKeyedStore(options: TempFileSpoolOptions = {}): () => TempFileKeyedStore {
  return () => new TempFileKeyedStore(options);
}
