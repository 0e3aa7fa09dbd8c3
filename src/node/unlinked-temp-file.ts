/**
 * A temp file that is unlinked as soon as it is created: the open descriptor keeps its data,
 * and nothing is left behind on success, on error, on abort, or even on kill -9 (POSIX).
 */
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { ioError } from './io-error.js';

export async function createUnlinkedTempFile(tempDir: string): Promise<FileHandle> {
  let dir: string;
  try {
    dir = await mkdtemp(join(tempDir, 'qcow2-stream-spool-'));
  } catch (error) {
    throw ioError(error, 'create a spool file in', tempDir);
  }
  try {
    return await open(join(dir, 'spool'), 'w+', 0o600);
  } catch (error) {
    throw ioError(error, 'create a spool file in', tempDir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
