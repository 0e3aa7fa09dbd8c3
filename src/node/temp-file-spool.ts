/**
 * A spool that keeps up to `memoryLimit` bytes in memory and writes the rest to a temp file,
 * read back in order. The temp file is unlinked as soon as it is created (POSIX keeps it
 * alive through the open descriptor), so it disappears on success, on error, on abort and
 * even if the process is killed.
 */
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LimitError } from '../errors.js';
import { ownedCopy, type Spool } from '../stages/spool.js';
import { ioError } from './io-error.js';

export interface TempFileSpoolOptions {
  /** Bytes held in memory before spilling to disk. Default 64 MiB. */
  memoryLimit?: number;
  /** Where the temp file goes. Default: the OS temp directory. */
  tempDir?: string;
  /** Largest number of bytes written to disk; past it, a LimitError. Default: unlimited. */
  diskLimit?: number;
}

export const DEFAULT_SPOOL_MEMORY = 64 * 1024 * 1024;
const READ_BACK_CHUNK = 4 * 1024 * 1024;
/** Small writes are gathered up to this size before they go to the file. */
const WRITE_BATCH = 1024 * 1024;

export class TempFileSpool implements Spool {
  size = 0;
  private readonly memory: Uint8Array[] = [];
  private memorySize = 0;
  private file: FileHandle | undefined;
  private fileSize = 0;
  private batch: Uint8Array[] = [];
  private batchSize = 0;
  private closed = false;
  private readonly memoryLimit: number;
  private readonly tempDir: string;
  private readonly diskLimit: number;

  constructor(options: TempFileSpoolOptions = {}) {
    this.memoryLimit = options.memoryLimit ?? DEFAULT_SPOOL_MEMORY;
    this.tempDir = options.tempDir ?? tmpdir();
    this.diskLimit = options.diskLimit ?? Infinity;
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
    if (!this.file) this.file = await this.createFile();
    this.batch.push(ownedCopy(bytes));
    this.batchSize += bytes.length;
    if (this.batchSize >= WRITE_BATCH) await this.flush();
  }

  async *read(): AsyncGenerator<Uint8Array> {
    await this.flush();
    while (this.memory.length > 0) yield this.memory.shift()!;
    this.memorySize = 0;
    const file = this.file;
    if (!file) return;
    for (let position = 0; position < this.fileSize; ) {
      const buffer = new Uint8Array(Math.min(READ_BACK_CHUNK, this.fileSize - position));
      const { bytesRead } = await file.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) throw new Error('spool file is shorter than what was written to it');
      position += bytesRead;
      yield bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.memory.length = 0;
    this.batch = [];
    const file = this.file;
    this.file = undefined;
    await file?.close();
  }

  private async flush(): Promise<void> {
    if (!this.file || this.batchSize === 0) return;
    const batch = this.batch;
    this.batch = [];
    this.batchSize = 0;
    try {
      const written = await this.file.writev(batch, this.fileSize);
      this.fileSize += written.bytesWritten;
      if (written.bytesWritten !== batch.reduce((n, b) => n + b.length, 0)) throw Object.assign(new Error('short write'), { code: 'EIO' });
    } catch (error) {
      throw ioError(error, 'write the spool file in', this.tempDir);
    }
  }

  private async createFile(): Promise<FileHandle> {
    let dir: string;
    try {
      dir = await mkdtemp(join(this.tempDir, 'qcow2-stream-spool-'));
    } catch (error) {
      throw ioError(error, 'create a spool file in', this.tempDir);
    }
    try {
      const path = join(dir, 'spool');
      const file = await open(path, 'w+', 0o600);
      return file;
    } finally {
      // Unlinked at once: the open descriptor keeps the data, nothing is left behind on any exit.
      await rm(dir, { recursive: true, force: true });
    }
  }
}

export function tempFileSpool(options: TempFileSpoolOptions = {}): () => TempFileSpool {
  return () => new TempFileSpool(options);
}
