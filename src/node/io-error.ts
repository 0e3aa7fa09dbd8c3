/** Turns a Node system error into an IoError with a one-line message a user can act on. */
import { IoError, Qcow2StreamError } from '../errors.js';

const REASONS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory',
  ENOTDIR: 'a path component is not a directory',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EFBIG: 'file too large for the filesystem',
  EROFS: 'read-only filesystem',
  EPIPE: 'the reader closed the pipe',
  EIO: 'input/output error',
  EMFILE: 'too many open files',
  ENXIO: 'no such device or address',
  ECONNRESET: 'connection reset',
};

export function ioError(error: unknown, action: string, path: string): Error {
  if (error instanceof Qcow2StreamError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code !== 'string') return error instanceof Error ? error : new Error(String(error));
  const reason = REASONS[code] ?? (error as Error).message;
  return new IoError(`cannot ${action} '${path}': ${reason} (${code})`, { path, syscallCode: code, cause: error });
}
