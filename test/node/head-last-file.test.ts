/**
 * qcow2 files written head last: from a qcow2 stream (whose map comes as it is read) the data
 * goes straight into the file behind a reserved head region, nothing spooled, and the file
 * is byte for byte the image a pipe gets (the data region is moved where the reservation was
 * off); a destination that cannot seek, or a reservation over 64 MiB, gets that image too.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { runCli } from '../helpers/cli.js';
import { join, withTempDir } from '../helpers/files.js';
import { qemuCheck, qemuImg, qemuTest } from '../helpers/qemu.js';

const run = promisify(execFile);

qemuTest('a qcow2 stream to a file: nothing spooled, clean, identical, the bytes a pipe gets', async (t) => {
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
    // 4 GiB at 64 KiB clusters: 8 L2 tables reserved, 2 used, so the data region moved down.
    t.true((await readFile(out)).equals(piped.stdout));
  });
});

qemuTest('compressed, or from a pipe with its size given: the file is the bytes a pipe gets, nothing spooled', async (t) => {
  await withTempDir(async (dir) => {
    // Sparse: 1 GiB of disk with data at 600 and 900 MiB, so the worst-case head (2 L2
    // tables) is longer than the one needed (1); a text stripe gives compression work.
    const raw = join(dir, 'disk.raw');
    await run('truncate', ['-s', '1G', raw]);
    await run('sh', ['-c', `yes qcow2 | head -c 3M | dd of='${raw}' bs=1M seek=600 conv=notrunc status=none && head -c 1M /dev/urandom | dd of='${raw}' bs=1M seek=900 conv=notrunc status=none`]);
    const noSpool = `--spool-memory 0 --tmpdir '${join(dir, 'no-such-dir')}'`;
    for (const compress of ['', '-c']) {
      const piped = await runCli([], { shell: `$QCOW2_STREAM convert ${compress} -O qcow2 '${raw}' -` });
      t.is(piped.code, 0, piped.stderr);
      const fromFile = join(dir, `file${compress}.qcow2`);
      const fromPipe = join(dir, `pipe${compress}.qcow2`);
      t.is((await runCli([], { shell: `$QCOW2_STREAM convert ${compress} -O qcow2 ${noSpool} '${raw}' '${fromFile}'` })).code, 0);
      const sized = await runCli([], { shell: `cat '${raw}' | $QCOW2_STREAM convert ${compress} -O qcow2 --size 1G ${noSpool} - '${fromPipe}'` });
      t.is(sized.code, 0, sized.stderr);
      for (const out of [fromFile, fromPipe]) {
        t.true((await readFile(out)).equals(piped.stdout), `${out} differs from the piped image`);
        const check = await qemuCheck(out);
        t.is(check.corruptions + check.leaks + check.checkErrors, 0, check.raw);
        t.is((await qemuImg('compare', '-f', 'raw', '-F', 'qcow2', raw, out)).code, 0);
      }
    }
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
