/**
 * `check` as a library call: the caller's limits reach every table it reads, and a file too
 * long to count is refused with a LimitError (a one-line error, not an internal one).
 */
import { readFile, truncate, writeFile } from 'node:fs/promises';
import { LimitError } from '../../src/errors.js';
import { checkQcow2File } from '../../src/node/qcow2-check.js';
import { isOneLineError, runCli } from '../helpers/cli.js';
import { join, withTempDir } from '../helpers/files.js';
import { qemuImg, qemuIo, qemuTest } from '../helpers/qemu.js';

qemuTest('limits.maxL1Bytes applies to snapshot L1 tables too', async (t) => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'snap.qcow2');
    // 64 MiB of 64 KiB clusters: one L1 entry (8 bytes), for the disk and for the snapshot.
    await qemuImg('create', '-q', '-f', 'qcow2', path, '64M');
    await qemuIo('-f', 'qcow2', '-c', 'write -P 1 0 128k', path);
    await qemuImg('snapshot', '-c', 'snap', path);
    // The snapshot's L1 table says 2 entries (16 bytes); the second, past what qemu wrote, is zeros.
    const bytes = new Uint8Array(await readFile(path));
    const view = new DataView(bytes.buffer);
    const table = Number(view.getBigUint64(64)); // snapshots_offset
    t.is(view.getUint32(table + 8), 1, 'the snapshot L1 table has one entry');
    view.setUint32(table + 8, 2);
    await writeFile(path, bytes);

    const full = await checkQcow2File(path);
    t.deepEqual([full.corruptions, full.leaks, full['check-errors']], [0, 0, 0], full.messages.join('\n'));
    // 8 bytes: the active L1 table passes, the snapshot's does not and is not read, so the
    // clusters only it references (its L1 table; the shared L2 and data its second count) leak.
    const tight = await checkQcow2File(path, { limits: { maxL1Bytes: 8 } });
    t.true(tight.leaks > 0, tight.messages.join('\n'));
  });
});

qemuTest('a file with more clusters than check counts is refused with a LimitError, not an internal error', async (t) => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'long.qcow2');
    await qemuImg('create', '-q', '-f', 'qcow2', '-o', 'cluster_size=512', path, '1M');
    await truncate(path, 2 ** 42); // sparse: 2^33 clusters of 512 bytes
    const error = await t.throwsAsync(checkQcow2File(path), { instanceOf: LimitError });
    t.is(error?.limit, 'checked clusters');
    const result = await runCli(['check', path]);
    t.is(result.code, 1);
    t.true(isOneLineError(result.stderr), result.stderr);
    t.notRegex(result.stderr, /internal error/);
    t.regex(result.stderr, /8589934592 clusters of 512 bytes/);
  });
});
