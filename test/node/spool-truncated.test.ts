/**
 * A spool's temp file cut short behind its back (another process, a full disk's cleaner):
 * reading back fails with an IoError naming the temp directory, which the command line
 * prints as a one-line error, not an internal one.
 */
import test from 'ava';
import { readdir, readlink, stat, truncate } from 'node:fs/promises';
import { IoError } from '../../src/errors.js';
import { TempFileKeyedStore } from '../../src/node/temp-file-keyed-store.js';
import { TempFileSpool } from '../../src/node/temp-file-spool.js';
import { collect, join, randomBytes, withTempDir } from '../helpers/files.js';

/** Waits until the one unlinked file this process holds open under `dir` is `size` bytes long, then truncates it, through /proc. */
async function truncateOpenFileUnder(dir: string, size: number): Promise<void> {
  const fds = '/proc/self/fd';
  for (const fd of await readdir(fds)) {
    const target = await readlink(join(fds, fd)).catch(() => '');
    if (!target.startsWith(`${dir}/`) || !target.endsWith(' (deleted)')) continue;
    while ((await stat(join(fds, fd))).size < size) await new Promise((resolve) => setTimeout(resolve, 10));
    return truncate(join(fds, fd), 1000);
  }
  throw new Error(`no unlinked file open under ${dir}`);
}

test('a spool file shorter than what was written is an IoError', async (t) => {
  await withTempDir(async (dir) => {
    const spool = new TempFileSpool({ memoryLimit: 0, tempDir: dir });
    // Whole staging buffers (1 MiB each), so nothing is left to write when reading starts.
    await spool.write(randomBytes(3 << 20, 1));
    await truncateOpenFileUnder(dir, 3 << 20);
    await t.throwsAsync(collect(spool.read()), { instanceOf: IoError, message: /spool file .* is shorter than what was written/ });
    await spool.close();
  });
});

test('a keyed store file shorter than what was written is an IoError', async (t) => {
  await withTempDir(async (dir) => {
    const store = new TempFileKeyedStore({ memoryLimit: 0, tempDir: dir });
    await store.put('a', randomBytes(100_000, 2));
    await truncateOpenFileUnder(dir, 100_000);
    await t.throwsAsync(store.get('a'), { instanceOf: IoError, message: /spool file .* is shorter than what was written/ });
    await store.close();
  });
});
