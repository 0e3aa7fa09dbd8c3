/**
 * qcow2 files written head last: from a qcow2 stream (whose map comes as it is read) the data
 * goes straight into the file behind a reserved head region, nothing spooled; a destination
 * that cannot seek, or a reservation over 64 MiB, gets the in-order image a pipe gets.
 */
import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { promisify } from 'node:util';
import { runCli } from '../helpers/cli.js';
import { join, withTempDir } from '../helpers/files.js';
import { qemuCheck, qemuImg, qemuTest } from '../helpers/qemu.js';

const run = promisify(execFile);

qemuTest('a qcow2 stream to a file: nothing spooled, a sparse head region, clean and identical', async (t) => {
  await withTempDir(async (dir) => {
    const source = join(dir, 'source.qcow2');
    await qemuImg('create', '-f', 'qcow2', source, '4G');
    await run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 7 0 3M', '-c', 'write -P 9 3G 1M', source]);
    const out = join(dir, 'out.qcow2');
    const noSpool = `--spool-memory 0 --tmpdir '${join(dir, 'no-such-dir')}'`;
    const result = await runCli([], { shell: `cat '${source}' | $QCOW2_STREAM convert -O qcow2 ${noSpool} - '${out}'` });
    t.is(result.code, 0, result.stderr);
    const check = await qemuCheck(out);
    t.is(check.corruptions + check.leaks + check.checkErrors, 0, check.raw);
    t.is((await qemuImg('compare', source, out)).code, 0);
    const piped = await runCli([], { shell: `cat '${source}' | $QCOW2_STREAM convert -O qcow2 - -` });
    const written = await readFile(out);
    t.false(written.equals(piped.stdout), 'the file should have its head region reserved');
    t.true(written.length > piped.stdout.length);
    const info = await stat(out);
    t.true(info.blocks * 512 < info.size, 'the unused reservation should be a hole');
  });
});

qemuTest('a FIFO, or a reservation over 64 MiB, gets the in-order image a pipe gets', async (t) => {
  await withTempDir(async (dir) => {
    const source = join(dir, 'big.qcow2');
    await qemuImg('create', '-f', 'qcow2', source, '2T');
    await run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 3 1G 2M', source]);
    const piped = await runCli([], { shell: `cat '${source}' | $QCOW2_STREAM convert -O qcow2 - -` });
    t.is(piped.code, 0, piped.stderr);
    // 2 TiB at 64 KiB clusters: a worst-case head of 4096 L2 tables, 256 MiB: not reserved.
    const out = join(dir, 'out.qcow2');
    const big = await runCli(['convert', '-O', 'qcow2', source, out]);
    t.is(big.code, 0, big.stderr);
    t.true((await readFile(out)).equals(piped.stdout));
    // A FIFO cannot seek.
    const fifo = join(dir, 'fifo');
    await run('mkfifo', [fifo]);
    const reader = runCli([], { shell: `cat '${fifo}' > '${join(dir, 'from-fifo.qcow2')}'` });
    const toFifo = await runCli(['convert', '-O', 'qcow2', source, fifo]);
    t.is(toFifo.code, 0, toFifo.stderr);
    await reader;
    t.true((await readFile(join(dir, 'from-fifo.qcow2'))).equals(piped.stdout));
  });
});
