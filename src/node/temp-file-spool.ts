/**
 * A spool that keeps up to `memoryLimit` bytes in memory and writes the rest to a temp file,
 * read back in order. What it is given is copied, into memory slabs or into one of two
 * staging buffers that take turns being written: the caller may reuse its buffers, and
 * nothing is allocated per write. The temp file is unlinked as soon as it is created (POSIX keeps it
 * alive through the open descriptor), so it disappears on success, on error, on abort and
 * even if the process is killed.
 */
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { IoError, LimitError } from '../errors.js';
import { DEFAULT_LIMITS } from '../limits.js';
import type { Spool } from '../stages/spool.js';
import type { BufferPool } from './buffer-pool.js';
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
  /** Read-back buffers come from here (bufferSize 4 MiB) when a sink hands them back. */
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
/** Reads of the spool file in flight while the previous chunk travels on. */
const READ_BACK_DEPTH = 2;
/** Memory is taken in slabs of this size and filled by copying: no allocation per write. */
const SLAB = 1024 * 1024;
/** Bytes gathered before a write to the file; two such buffers take turns. */
const STAGING = 1024 * 1024;

/** A spool's temp file gave back fewer bytes than went in: something else truncated it. */
export function shortSpoolFile(tempDir: string): IoError {
  return new IoError(`cannot read the spool file in '${tempDir}': it is shorter than what was written to it (truncated by something else?)`, { path: tempDir });
}

export class TempFileSpool implements Spool {
  size = 0;
  private slabs: Uint8Array[] = [];
  private slabFill = 0;
  private memorySize = 0;
  private file: FileHandle | undefined;
  /** Bytes handed to the file so far (written, or being written). */
  private fileSize = 0;
  private staging: Uint8Array[] = [];
  private stagingFill = 0;
  /** The staging buffer being written while the other fills: one write in flight at most. */
  private writing: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly memoryLimit: number;
  private readonly tempDir: string;
  private readonly diskLimit: number;

  private readonly pool: BufferPool | undefined;

  constructor(options: TempFileSpoolOptions = {}) {
    ({ memoryLimit: this.memoryLimit, tempDir: this.tempDir, diskLimit: this.diskLimit } = resolveSpoolOptions(options));
    this.pool = options.pool?.bufferSize === READ_BACK_CHUNK ? options.pool : undefined;
  }

  /** True once bytes have gone to disk. */
  get spilled(): boolean {
    return this.file !== undefined;
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (this.closed) throw new Error('spool is closed');
    this.size += bytes.length;
    let at = this.toMemory(bytes);
    if (at === bytes.length) return;
    if (this.fileSize + this.stagingFill + bytes.length - at > this.diskLimit) {
      throw new LimitError('spool disk', `the spool needs more than ${this.diskLimit} bytes of temp file space (spoolDisk, --spool-disk)`);
    }
    if (!this.file) {
      this.file = await createUnlinkedTempFile(this.tempDir);
      this.staging = [new Uint8Array(STAGING), new Uint8Array(STAGING)];
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

  /** Copies what fits in the memory budget (only while nothing went to disk yet); returns how much. */
  private toMemory(bytes: Uint8Array): number {
    let at = 0;
    while (!this.file && at < bytes.length && this.memorySize < this.memoryLimit) {
      if (this.slabs.length === 0 || this.slabFill === this.slabs.at(-1)!.length) {
        this.slabs.push(new Uint8Array(Math.min(SLAB, this.memoryLimit - this.memorySize)));
        this.slabFill = 0;
      }
      const slab = this.slabs.at(-1)!;
      const take = Math.min(bytes.length - at, slab.length - this.slabFill);
      slab.set(bytes.subarray(at, at + take), this.slabFill);
      this.slabFill += take;
      this.memorySize += take;
      at += take;
    }
    return at;
  }

  async *read(): AsyncGenerator<Uint8Array> {
    await this.startWrite();
    await this.writing;
    const slabs = this.slabs;
    this.slabs = [];
    for (let i = 0; i < slabs.length; i++) {
      const slab = slabs[i]!;
      yield i === slabs.length - 1 ? slab.subarray(0, this.slabFill) : slab;
    }
    this.memorySize = 0;
    const file = this.file;
    if (!file) return;
    const ranges: Array<[number, number]> = [];
    for (let at = 0; at < this.fileSize; at += READ_BACK_CHUNK) ranges.push([at, Math.min(at + READ_BACK_CHUNK, this.fileSize)]);
    yield* orderedReads(ranges, READ_BACK_DEPTH, async ([from, to]) => {
      const buffer = this.pool ? this.pool.take(to - from) : Buffer.allocUnsafe(to - from);
      let bytesRead: number;
      try {
        bytesRead = await readFully(file.fd, buffer, buffer.length, from);
      } catch (error) {
        throw ioError(error, 'read the spool file in', this.tempDir);
      }
      if (bytesRead !== buffer.length) throw shortSpoolFile(this.tempDir);
      return buffer;
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.slabs = [];
    await this.writing.catch(() => {});
    this.staging = [];
    const file = this.file;
    this.file = undefined;
    await file?.close();
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
