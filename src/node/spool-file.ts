/**
 * One unlinked temp file a spool fills in order and reads back once: the part of a spool that
 * does not stay in the process's memory. `write` takes a reference to what it is given (a copy
 * first, for bytes that are not pooled: their owner may reuse them) and writes it with gathered
 * writes of a few megabytes, one in flight while the next gathers, releasing each batch once
 * written, so nothing is copied or allocated per write. `read` reads the file back a few
 * megabytes ahead into pool buffers, each handed out with its reference. The file has no name
 * (unlinked-temp-file.ts), so it disappears on every exit, a kill included.
 */
import type { FileHandle } from 'node:fs/promises';
import { IoError, LimitError } from '../errors.js';
import { BufferPool, isPooled, release, retain } from '../stages/buffer-pool.js';
import { GatheredWrites } from './gathered-writes.js';
import { ioError } from './io-error.js';
import { orderedReads } from './ordered-reads.js';
import { readFully, remainderAfter, writeChunks } from './positional-io.js';
import { createUnlinkedTempFile } from './unlinked-temp-file.js';

const READ_BACK_CHUNK = 1024 * 1024;
/** Reads of the file in flight ahead of the one being consumed. */
const READ_BACK_DEPTH = 4;
/** Bytes gathered into one write. */
const WRITE_BATCH = 2 * 1024 * 1024;

/** A spool's temp file gave back fewer bytes than went in: something else truncated it. */
export function shortSpoolFile(dir: string): IoError {
  return new IoError(`cannot read the spool file in '${dir}': it is shorter than what was written to it (truncated by something else?)`, { path: dir });
}

export class SpoolFile {
  private file: FileHandle | undefined;
  /** Bytes handed to a write so far. */
  private fileSize = 0;
  private writes: GatheredWrites | undefined;

  constructor(
    /** Where the file goes. */
    readonly dir: string,
    /** Most bytes it may hold; past it, a LimitError naming `limitName`. */
    private readonly limit: number,
    private readonly limitName: string,
    private readonly pool: BufferPool,
  ) {}

  /** Bytes written or gathered. */
  get size(): number {
    return this.fileSize + (this.writes?.gathered ?? 0);
  }

  /** True once the file exists. */
  get opened(): boolean {
    return this.file !== undefined;
  }

  /** Bytes still to take before the limit. */
  get room(): number {
    return this.limit - this.size;
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (this.size + bytes.length > this.limit) {
      throw new LimitError('spool disk', `the spool needs more than ${this.limit} bytes of temp file space (${this.limitName})`);
    }
    if (!this.file) {
      const file = (this.file = await createUnlinkedTempFile(this.dir));
      this.writes = new GatheredWrites((batch) => this.writeAt(file.fd, batch), WRITE_BATCH);
    }
    await this.writes!.add(this.held(bytes));
  }

  /** `bytes` with a reference of the file's own: the same view for pooled bytes, a pooled copy of anything else. */
  private held(bytes: Uint8Array): Uint8Array {
    if (isPooled(bytes)) {
      retain(bytes);
      return bytes;
    }
    const copy = this.pool.take(bytes.length);
    copy.set(bytes);
    return copy;
  }

  /** Everything written, in order, each chunk a pool buffer holding its reference; call once, after the last write. */
  async *read(): AsyncGenerator<Uint8Array> {
    await this.writes?.finish();
    const file = this.file;
    if (!file) return;
    const ranges: Array<[number, number]> = [];
    for (let at = 0; at < this.fileSize; at += READ_BACK_CHUNK) ranges.push([at, Math.min(at + READ_BACK_CHUNK, this.fileSize)]);
    yield* orderedReads(ranges, READ_BACK_DEPTH, ([from, to]) => this.readBack(file, from, to), release);
  }

  private async readBack(file: FileHandle, from: number, to: number): Promise<Uint8Array> {
    const buffer = this.pool.take(to - from);
    let bytesRead: number;
    try {
      bytesRead = await readFully(file.fd, buffer, buffer.length, from);
    } catch (error) {
      release(buffer);
      throw ioError(error, 'read the spool file in', this.dir);
    }
    if (bytesRead !== buffer.length) {
      release(buffer);
      throw shortSpoolFile(this.dir);
    }
    return buffer;
  }

  async close(): Promise<void> {
    for (const view of (await this.writes?.abandon()) ?? []) release(view);
    const file = this.file;
    this.file = undefined;
    await file?.close();
  }

  /** Writes `batch` where the file ends, then releases it. */
  private async writeAt(fd: number, batch: Uint8Array[]): Promise<void> {
    let position = this.fileSize;
    this.fileSize += batch.reduce((sum, view) => sum + view.length, 0);
    try {
      let pending = batch;
      while (pending.length > 0) {
        const written = await writeChunks(fd, pending, position);
        if (written === 0) throw Object.assign(new Error('write returned 0'), { code: 'EIO' });
        position += written;
        pending = remainderAfter(pending, written);
      }
    } catch (error) {
      throw ioError(error, 'write the spool file in', this.dir);
    } finally {
      for (const view of batch) release(view);
    }
  }
}
