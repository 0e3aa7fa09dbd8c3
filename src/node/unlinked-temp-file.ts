/**
 * A temp file with no name: the open descriptor keeps its data, and nothing is left behind on
 * success, on error, on abort, or on kill -9.
 *
 * On Linux it is made with O_TMPFILE, so it never has a name at all. Elsewhere (or on a
 * filesystem without O_TMPFILE) it is created under a random name and unlinked at once; only
 * a kill -9 between those two system calls could leave an empty file behind.
 */
import { constants } from 'node:fs';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { ioError } from './io-error.js';

/** Linux's O_TMPFILE (__O_TMPFILE | O_DIRECTORY); Node does not export it. */
const LINUX_O_TMPFILE = 0o20000000 | 0o200000;

/** Errors by which a kernel or filesystem says it has no O_TMPFILE. */
const NO_TMPFILE = new Set(['EISDIR', 'EOPNOTSUPP', 'ENOTSUP', 'EINVAL']);

async function openNameless(tempDir: string): Promise<FileHandle | undefined> {
  if (process.platform !== 'linux') return undefined;
  try {
    return await open(tempDir, constants.O_RDWR | LINUX_O_TMPFILE, 0o600);
  } catch (error) {
    if (NO_TMPFILE.has((error as NodeJS.ErrnoException).code ?? '')) return undefined;
    throw error;
  }
}

export async function createUnlinkedTempFile(tempDir: string): Promise<FileHandle> {
  try {
    const nameless = await openNameless(tempDir);
    if (nameless) return nameless;
    const path = join(tempDir, `.qcow2-stream-spool-${(await import('node:crypto')).randomBytes(6).toString('hex')}`);
    const file = await open(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o600);
    await unlink(path).catch(async (error: unknown) => {
      await file.close();
      throw error;
    });
    return file;
  } catch (error) {
    throw ioError(error, 'create a spool file in', tempDir);
  }
}
