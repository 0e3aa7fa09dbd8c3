/**
 * A spool that keeps up to `memoryLimit` bytes in memory and writes the rest to a temp file in
 * `tempDir`, read back in order. The memory part is an unlinked file on /dev/shm where there is
 * one (memory-file.ts: memory that costs no page faults to fill), otherwise a copy in pooled
 * slabs. Either file is written from references to what the spool is given and read back into
 * pool buffers (spool-file.ts), so nothing is copied or allocated per write. Every file is
 * unlinked as soon as it is created, so nothing is left on success, on error, on abort or on a
 * kill.
 */
import { tmpdir } from 'node:os';
import { DEFAULT_LIMITS } from '../limits.js';
import { BufferPool, sharedBufferPool } from '../stages/buffer-pool.js';
import { Slabs, type Spool } from '../stages/spool.js';
import { memoryFileDir } from './memory-file.js';
import { SpoolFile } from './spool-file.js';

export interface TempFileSpoolOptions {
  /** Bytes held in memory before spilling to disk. Default 64 MiB. */
  memoryLimit?: number;
  /** Where the temp file goes. Default: the OS temp directory. */
  tempDir?: string;
  /** Largest number of bytes written to disk; past it, a LimitError. Default: unlimited. */
  diskLimit?: number;
  /** Where memory slabs and read-back buffers come from. Default: the shared pool. */
  pool?: BufferPool;
}

export const DEFAULT_SPOOL_MEMORY = DEFAULT_LIMITS.spoolMemory;

/** The options with their defaults filled in. */
export function resolveSpoolOptions(options: TempFileSpoolOptions): Required<Omit<TempFileSpoolOptions, 'pool'>> {
  return {
    memoryLimit: options.memoryLimit ?? DEFAULT_SPOOL_MEMORY,
    tempDir: options.tempDir ?? tmpdir(),
    diskLimit: options.diskLimit ?? DEFAULT_LIMITS.spoolDisk,
  };
}

export class TempFileSpool implements Spool {
  size = 0;
  /** The memory part, chosen at the first write. */
  private memory: Slabs | SpoolFile | undefined;
  private readonly disk: SpoolFile;
  private closed = false;
  private readonly memoryLimit: number;
  private readonly pool: BufferPool;

  constructor(options: TempFileSpoolOptions = {}) {
    const resolved = resolveSpoolOptions(options);
    this.memoryLimit = resolved.memoryLimit;
    this.pool = options.pool ?? sharedBufferPool();
    this.disk = new SpoolFile(resolved.tempDir, resolved.diskLimit, 'spoolDisk, --spool-disk', this.pool);
  }

  /** True once bytes have gone to disk. */
  get spilled(): boolean {
    return this.disk.opened;
  }

  private async memoryPart(): Promise<Slabs | SpoolFile> {
    if (this.memory) return this.memory;
    const dir = await memoryFileDir(this.memoryLimit);
    return (this.memory = dir ? new SpoolFile(dir, this.memoryLimit, 'the memory file', this.pool) : new Slabs(this.memoryLimit, this.pool));
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (this.closed) throw new Error('spool is closed');
    this.size += bytes.length;
    let rest = bytes;
    // In order: once anything went to disk, everything after it does too.
    if (!this.disk.opened) {
      const memory = await this.memoryPart();
      const take = Math.min(memory.room, bytes.length);
      if (take > 0) {
        const part = take === bytes.length ? bytes : bytes.subarray(0, take);
        if (memory instanceof Slabs) memory.add(part);
        else await memory.write(part);
      }
      if (take === bytes.length) return;
      rest = bytes.subarray(take);
    }
    await this.disk.write(rest);
  }

  async *read(): AsyncGenerator<Uint8Array> {
    if (this.memory instanceof Slabs) yield* this.memory.drain();
    else if (this.memory) yield* this.memory.read();
    yield* this.disk.read();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.memory instanceof Slabs) this.memory.clear();
    else await this.memory?.close();
    await this.disk.close();
  }
}

export function tempFileSpool(options: TempFileSpoolOptions = {}): () => TempFileSpool {
  return () => new TempFileSpool(options);
}
