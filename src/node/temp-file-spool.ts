/**
 * A spool that keeps up to `memoryLimit` bytes in memory and writes the rest to a temp file,
 * read back in order. The temp file is unlinked as soon as it is created (POSIX keeps it
 * alive through the open descriptor), so it disappears on success, on error, on abort and
 * even if the process is killed.
 */
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { LimitError } from '../errors.js';
import { ownedCopy, type Spool } from '../stages/spool.js';
import { ioError } from './io-error.js';
import { createUnlinkedTempFile } from './unlinked-temp-file.js';
import { orderedReads } from './ordered-reads.js';
import { readFully, remainderAfter, writeChunks } from './positional-io.js';

export interface TempFileSpoolOptions {
  /** Bytes held in memory before spilling to disk. Default 64 MiB. */
  memoryLimit?: number;
  /** Where the temp file goes. Default: the OS temp directory. */
  tempDir?: string;
  /** Largest number of bytes written to disk; past it, a LimitError. Default: unlimited. */
  diskLimit?: number;
}

export const DEFAULT_SPOOL_MEMORY = 64 * 1024 * 1024;

/** The options with their defaults filled in. */
export function resolveSpoolOptions(options: TempFileSpoolOptions): Required<TempFileSpoolOptions> {
  return {
    memoryLimit: options.memoryLimit ?? DEFAULT_SPOOL_MEMORY,
    tempDir: options.tempDir ?? tmpdir(),
    diskLimit: options.diskLimit ?? Infinity,
  };
}
const READ_BACK_CHUNK = 4 * 1024 * 1024;
/** Reads of the spool file in flight while the previous chunk travels on. */
const READ_BACK_DEPTH = 2;
const EMPTY = new Uint8Array(0);
/** Small writes are gathered up to this size before they go to the file. */
const WRITE_BATCH = 4 * 1024 * 1024;

export class TempFileSpool implements Spool {
  size = 0;
  private memory: Uint8Array[] = [];
  private memorySize = 0;
  private file: FileHandle | undefined;
  /** Bytes handed to the file so far (written, or being written). */
  private fileSize = 0;
  private batch: Uint8Array[] = [];
  private batchSize = 0;
  /** The batch being written while the next one fills: one in flight at most. */
  private writing: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly memoryLimit: number;
  private readonly tempDir: string;
  private readonly diskLimit: number;

  constructor(options: TempFileSpoolOptions = {}) {
    ({ memoryLimit: this.memoryLimit, tempDir: this.tempDir, diskLimit: this.diskLimit } = resolveSpoolOptions(options));
  }

  /** True once bytes have gone to disk. */
  get spilled(): boolean {
    return this.file !== undefined;
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (this.closed) throw new Error('spool is closed');
    this.size += bytes.length;
    if (!this.file && this.memorySize + bytes.length <= this.memoryLimit) {
      this.memory.push(ownedCopy(bytes));
      this.memorySize += bytes.length;
      return;
    }
    if (this.fileSize + this.batchSize + bytes.length > this.diskLimit) {
      throw new LimitError('spool disk', `the spool needs more than ${this.diskLimit} bytes of temp file space`);
    }
    if (!this.file) this.file = await createUnlinkedTempFile(this.tempDir);
    this.batch.push(ownedCopy(bytes));
    this.batchSize += bytes.length;
    if (this.batchSize >= WRITE_BATCH) await this.startBatch();
  }

  async *read(): AsyncGenerator<Uint8Array> {
    await this.startBatch();
    await this.writing;
    const memory = this.memory;
    this.memory = [];
    this.memorySize = 0;
    for (let i = 0; i < memory.length; i++) {
      const chunk = memory[i]!;
      memory[i] = EMPTY;
      yield chunk;
    }
    const file = this.file;
    if (!file) return;
    const ranges: Array<[number, number]> = [];
    for (let at = 0; at < this.fileSize; at += READ_BACK_CHUNK) ranges.push([at, Math.min(at + READ_BACK_CHUNK, this.fileSize)]);
    yield* orderedReads(ranges, READ_BACK_DEPTH, async ([from, to]) => {
      const buffer = Buffer.allocUnsafe(to - from);
      const bytesRead = await readFully(file.fd, buffer, buffer.length, from);
      if (bytesRead !== buffer.length) throw new Error('spool file is shorter than what was written to it');
      return buffer;
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.memory = [];
    this.batch = [];
    await this.writing.catch(() => {});
    const file = this.file;
    this.file = undefined;
    await file?.close();
  }

  /** Waits for the batch in flight, then starts writing the current one at the end of the file. */
  private async startBatch(): Promise<void> {
    await this.writing;
    if (!this.file || this.batchSize === 0) return;
    const { fd } = this.file;
    const batch = this.batch;
    const at = this.fileSize;
    this.fileSize += this.batchSize;
    this.batch = [];
    this.batchSize = 0;
    this.writing = this.writeAt(fd, batch, at);
    this.writing.catch(() => {}); // surfaces at the next await of `writing`
  }

  private async writeAt(fd: number, batch: Uint8Array[], at: number): Promise<void> {
    try {
      let pending = batch;
      let position = at;
      while (pending.length > 0) {
        const written = await writeChunks(fd, pending, position);
        if (written === 0) throw Object.assign(new Error('write returned 0'), { code: 'EIO' });
        position += written;
        pending = remainderAfter(pending, written);
      }
    } catch (error) {
      throw ioError(error, 'write the spool file in', this.tempDir);
    }
  }

}

export function tempFileSpool(options: TempFileSpoolOptions = {}): () => TempFileSpool {
  return () => new TempFileSpool(options);
}
