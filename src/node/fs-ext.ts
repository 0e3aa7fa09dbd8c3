/**
 * The optional native `fs-ext` package, for the system calls Node lacks: lseek (holes, a
 * descriptor's position) and fcntl (a pipe's capacity). It is built at install where a
 * compiler is present; without it each caller falls back to what Node alone can do.
 */
import { createRequire } from 'node:module';

export interface FsExt {
  seek(fd: number, offset: number, whence: number, callback: (error: NodeJS.ErrnoException | null, position: number) => void): void;
  fcntlSync(fd: number, command: number, argument?: number): number;
}

let loaded: FsExt | null | undefined;

/** The native module, or null where it was not built or does not load. */
export function fsExt(): FsExt | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  try {
    const module = createRequire(import.meta.url)('fs-ext') as Partial<FsExt>;
    if (typeof module.seek === 'function' && typeof module.fcntlSync === 'function') loaded = module as FsExt;
  } catch {
    // optional: callers fall back
  }
  return loaded;
}
