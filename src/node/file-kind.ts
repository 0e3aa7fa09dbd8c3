/** What kind of file a path or a descriptor is, as the readers and writers choose their way by it. */
import { fstatSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { ioError } from './io-error.js';

/** Whether `path` is a regular file (read with random access, or twice); a path that cannot be looked at is an error naming it. */
export async function isRegularFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch (error) {
    throw ioError(error, 'open', path);
  }
}

/** Whether descriptor `fd` is a regular file. */
export function isRegularDescriptor(fd: number): boolean {
  try {
    return fstatSync(fd).isFile();
  } catch {
    return false;
  }
}

/** Whether libuv can poll `fd`: a pipe, a FIFO or a socket (a regular file or most devices cannot be). */
export function isPollable(fd: number): boolean {
  try {
    const info = fstatSync(fd);
    return info.isFIFO() || info.isSocket();
  } catch {
    return false;
  }
}
