/**
 * A spool that keeps up to `memoryLimit` bytes in memory and writes the rest to a temp file,
 * read back in order. What it is given is copied, into pooled memory slabs or into one of two
 * pooled staging buffers that take turns being written, so the caller keeps its buffers and
 * nothing is allocated per write; the file is read back a few megabytes ahead into pool
 * buffers, each handed to the reader with its reference. The temp file is unlinked as soon as
 * it is created (POSIX keeps it alive through the open descriptor), so it disappears on success,
 * on error, on abort and even if the process is killed.
 */
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { IoError, LimitError } from '../errors.js';
import { DEFAULT_LIMITS } from '../limits.js';
import { BufferPool, release, sharedBufferPool } from '../stages/buffer-pool.js';
import { Slabs, type Spool } from '../stages/spool.js';
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
  /** Where memory slabs, staging and read-back buffers come from. Default: the shared pool. */
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
const READ_BACK_CHUNK = 1024 * 1024;
/** Reads of the spool file in flight ahead of the one being consumed. */
const READ_BACK_DEPTH = 4;
/** Bytes gathered before a write to the file; two such buffers take turns. */
const STAGING = 1024 * 1024;

/** A spool's temp file gave back fewer bytes than went in: something else truncated it. */
export function shortSpoolFile(tempDir: string): IoError {
  return new IoError(`cannot read the spool file in '${tempDir}': it is shorter than what was written to it (truncated by something else?)`, { path: tempDir });
}

export class TempFileSpool implements Spool {
  size = 0;
  private readonly memory: Slabs;
  private file: FileHandle | undefined;
  /** Bytes handed to the file so far (written, or being written). */
  private fileSize = 0;
  /** The buffer being filled, and the one being written (or idle). */
  private staging: Uint8Array[] = [];
  private stagingFill = 0;
  /** The staging buffer being written while the other fills: one write in flight at most. */
  private writing: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly tempDir: string;
  private readonly diskLimit: number;
  private readonly pool: BufferPool;

  constructor(options: TempFileSpoolOptions = {}) {
    const resolved = resolveSpoolOptions(options);
    ({ tempDir: this.tempDir, diskLimit: this.diskLimit } = resolved);
    this.pool = options.pool ?? sharedBufferPool();
    this.memory = new Slabs(resolved.memoryLimit, this.pool);
  }

  /** True once bytes have gone to disk. */
  get spilled(): boolean {
    return this.file !== undefined;
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (this.closed) throw new Error('spool is closed');
    this.size += bytes.length;
    // In order: once anything went to disk, everything after it does too.
    let at = this.file ? 0 : this.memory.add(bytes);
    if (at === bytes.length) return;
    if (this.fileSize + this.stagingFill + bytes.length - at > this.diskLimit) {
      throw new LimitError('spool disk', `the spool needs more than ${this.diskLimit} bytes of temp file space (spoolDisk, --spool-disk)`);
    }
    if (!this.file) {
      this.file = await createUnlinkedTempFile(this.tempDir);
      this.staging = [this.pool.take(STAGING), this.pool.take(STAGING)];
    }
    while (at < bytes.length) {
      const current = this.staging[0]!;
      const take = Math.min(bytes.length - at, STAGING - this.stagingFill);
      current.set(bytes.subarray(at, at + take), this.stagingFill);
      this.stagingFill += take;
      at += take;
      if (this.stagingFill === STAGING) await this.startWrite();
    }
  }

  async *read(): AsyncGenerator<Uint8Array> {
    await this.startWrite();
    await this.writing;
    this.releaseStaging();
    yield* this.memory.drain();
    const file = this.file;
    if (!file) return;
    const ranges: Array<[number, number]> = [];
    for (let at = 0; at < this.fileSize; at += READ_BACK_CHUNK) ranges.push([at, Math.min(at + READ_BACK_CHUNK, this.fileSize)]);
    yield* orderedReads(
      ranges,
      READ_BACK_DEPTH,
      async ([from, to]) => {
        const buffer = this.pool.take(to - from);
        let bytesRead: number;
        try {
          bytesRead = await readFully(file.fd, buffer, buffer.length, from);
        } catch (error) {
          release(buffer);
          throw ioError(error, 'read the spool file in', this.tempDir);
        }
        if (bytesRead !== buffer.length) {
          release(buffer);
          throw shortSpoolFile(this.tempDir);
        }
        return buffer;
      },
      release,
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    this.memory.clear();
    await this.writing.catch(() => {});
    this.releaseStaging();
    const file = this.file;
    this.file = undefined;
    await file?.close();
  }

  private releaseStaging(): void {
    for (const buffer of this.staging) release(buffer);
    this.staging = [];
  }

  /** Waits for the write in flight, then writes the filled staging buffer and swaps to the other. */
  private async startWrite(): Promise<void> {
    await this.writing;
    if (!this.file || this.stagingFill === 0) return;
    const { fd } = this.file;
    const [full, spare] = this.staging as [Uint8Array, Uint8Array];
    const at = this.fileSize;
    const length = this.stagingFill;
    this.fileSize += length;
    this.staging = [spare, full];
    this.stagingFill = 0;
    this.writing = this.writeAt(fd, full.subarray(0, length), at);
    this.writing.catch(() => {}); // surfaces at the next await of `writing`
  }

  private async writeAt(fd: number, bytes: Uint8Array, at: number): Promise<void> {
    try {
      let pending = [bytes];
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
