/**
 * Where a file holds data, by lseek(SEEK_DATA / SEEK_HOLE), so a sparse file's holes are
 * never read: a 4 TiB disk with a few megabytes in it scans in milliseconds.
 *
 * Node has no lseek, so this uses the optional native `fs-ext` package (fs-ext.ts). Without
 * it (not built, or another OS), or on a filesystem that does not report holes, the whole
 * file counts as data and is scanned for zeros instead: slower, same result.
 */
import { fsExt, type FsExt } from './fs-ext.js';

type SeekFn = FsExt['seek'];

/** lseek whence values for SEEK_DATA and SEEK_HOLE, which differ between kernels. */
const WHENCE: Partial<Record<NodeJS.Platform, { data: number; hole: number }>> = {
  linux: { data: 3, hole: 4 },
  freebsd: { data: 3, hole: 4 },
  darwin: { data: 4, hole: 3 },
};

/** lseek's whence for "from the current position", the same everywhere. */
const SEEK_CUR = 1;

function loadSeek(): SeekFn | null {
  const ext = WHENCE[process.platform] ? fsExt() : null;
  return ext ? ext.seek.bind(ext) : null;
}

/** True when holes can be skipped on this system. */
export function canSkipHoles(): boolean {
  return loadSeek() !== null;
}

function seekAsync(seek: SeekFn, fd: number, offset: number, whence: number): Promise<number> {
  return new Promise((resolve, reject) => seek(fd, offset, whence, (error, position) => (error ? reject(error) : resolve(position))));
}

/** Yields [start, end) byte ranges that may hold data, ascending, within [0, size). */
export async function* dataExtents(fd: number, size: number): AsyncGenerator<[number, number]> {
  const seek = loadSeek();
  const whence = WHENCE[process.platform];
  if (!seek || !whence) {
    if (size > 0) yield [0, size];
    return;
  }
  let position = 0;
  while (position < size) {
    let start: number;
    try {
      start = await seekAsync(seek, fd, position, whence.data);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENXIO') return; // no data past `position`
      if (code === 'EINVAL' || code === 'ENOTSUP' || code === 'EOPNOTSUPP') {
        yield [position, size]; // the filesystem cannot tell: scan everything
        return;
      }
      throw error;
    }
    if (start >= size) return;
    const end = Math.min(await seekAsync(seek, fd, start, whence.hole), size);
    yield [start, end];
    position = end;
  }
}

/** The descriptor's file position (lseek SEEK_CUR), or undefined where lseek is not available. */
export async function filePosition(fd: number): Promise<number | undefined> {
  const seek = loadSeek();
  if (!seek) return undefined;
  try {
    return await seekAsync(seek, fd, 0, SEEK_CUR);
  } catch {
    return undefined;
  }
}
