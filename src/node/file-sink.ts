/**
 * Writing an image to a path without ever leaving a partial file that looks complete: bytes
 * go to a temporary name beside the destination, which is synced and renamed into place only
 * when the last byte is written; on any error it is removed. A destination that is not a
 * regular file (a device, a FIFO) is written in place.
 */
import { open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { release } from '../stages/buffer-pool.js';
import { trackTempFile, untrackTempFile } from './cleanups.js';
import { GatheredWrites } from './gathered-writes.js';
import { ioError } from './io-error.js';
import { remainderAfter, writeChunks } from './positional-io.js';

export interface FileSinkOptions {
  /**
   * fdatasync before the rename, so that even a power loss cannot leave a complete-looking
   * file whose data never reached the disk. Default false, as with qemu-img and cp.
   */
  sync?: boolean;
}

/** Chunks are gathered into one writev of about this size. */
const WRITE_BATCH = 4 * 1024 * 1024;

/** True when `path` exists and is neither a regular file nor a directory (a device, a FIFO): it is written in place. */
export async function isSpecialFile(path: string): Promise<boolean> {
  try {
    const info = await stat(path);
    return !info.isFile() && !info.isDirectory();
  } catch {
    return false;
  }
}

/** Runs one operation on the destination, naming it in any error. */
export async function onDestination<T>(path: string, action: string, operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw ioError(error, action, path);
  }
}

/**
 * Writes every chunk in order at the current position of `fd` (a file, or a device or FIFO this
 * process opened, so blocking), or from byte `at` of a file; returns bytes written. Each chunk's
 * reference is released once the kernel has it (see buffer-pool.ts). Errors of the destination
 * name `path`; errors of the chunks' source pass through unchanged.
 */
export async function writeAll(fd: number, chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, path: string, at?: number): Promise<number> {
  let total = 0;
  const writes = new GatheredWrites(async (batch) => {
    // A short write (the disk filling up) is followed by another, which reports the error.
    let pending = batch;
    while (pending.length > 0) {
      const position = at === undefined ? null : at + total;
      const bytesWritten = await onDestination(path, 'write', () => writeChunks(fd, pending, position));
      if (bytesWritten === 0) throw ioError(Object.assign(new Error('write returned 0'), { code: 'EIO' }), 'write', path);
      total += bytesWritten;
      pending = remainderAfter(pending, bytesWritten);
    }
    for (const chunk of batch) release(chunk);
  }, WRITE_BATCH);
  try {
    for await (const chunk of chunks) await writes.add(chunk);
    await writes.finish();
  } finally {
    for (const chunk of await writes.abandon()) release(chunk);
  }
  return total;
}

let temporaries = 0;

/**
 * A name beside `path` that nothing else uses: this process, a count and a random number, in hex
 * (the file is created with O_EXCL, so a clash would fail, not overwrite). Not node:crypto, whose
 * loading costs every conversion's startup.
 */
function temporaryName(path: string): string {
  const unique = `${process.pid.toString(16)}${(temporaries++).toString(16).padStart(4, '0')}${Math.floor(Math.random() * 2 ** 32).toString(16)}`;
  return join(dirname(path), `.${basename(path)}.${unique}.partial`);
}

/**
 * Runs `write` on a descriptor for `path`: a temporary file beside it that becomes `path` only
 * once `write` resolves, or, for a destination that is not a regular file, `path` itself.
 * `write` learns which (a regular file may be written with holes, positionally).
 */
export async function withDestination<T>(path: string, options: FileSinkOptions, write: (fd: number, regularFile: boolean) => Promise<T>): Promise<T> {
  if (await isSpecialFile(path)) {
    const file = await onDestination(path, 'open', () => open(path, 'w'));
    try {
      return await write(file.fd, false);
    } finally {
      await file.close().catch(() => {});
    }
  }

  const temp = temporaryName(path);
  let file: FileHandle | undefined = await onDestination(path, 'create a file beside', () => open(temp, 'wx+', 0o644)); // readable too: a head-last image may move its data region
  trackTempFile(temp);
  try {
    const result = await write(file.fd, true);
    const opened = file;
    if (options.sync ?? false) await onDestination(path, 'sync', () => opened.datasync());
    await onDestination(path, 'close', () => opened.close());
    file = undefined;
    await onDestination(path, 'rename into', () => rename(temp, path));
    untrackTempFile(temp);
    return result;
  } catch (error) {
    await file?.close().catch(() => {});
    await unlink(temp).catch(() => {});
    untrackTempFile(temp);
    throw error;
  }
}

/** Streams `chunks` into `path` atomically; resolves with the number of bytes written. */
export async function writeFileAtomically(path: string, chunks: AsyncIterable<Uint8Array>, options: FileSinkOptions = {}): Promise<number> {
  return withDestination(path, options, (fd) => writeAll(fd, chunks, path));
}
