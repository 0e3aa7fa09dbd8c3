/** The convert command as a user runs it: pipes, files, and every kind of bad input. */
import test from 'ava';
import { execFile, spawn } from 'node:child_process';
import { chmod, readdir, readFile, stat, statfs, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { CONVERT_HELP, CONVERT_OPTIONS } from '../../src/cli/convert-command.js';
import { CLI, isOneLineError, runCli } from '../helpers/cli.js';
import { join, noSmallFilesystem, randomBytes, withSmallFilesystem, withTempDir } from '../helpers/files.js';
import { makeExt4 } from '../helpers/inputs.js';
import { qemuCheck, qemuCompare, qemuTest } from '../helpers/qemu.js';

const run = promisify(execFile);

qemuTest('a pipe in and a pipe out give the same bytes as file to file', async (t) => {
  await withTempDir(async (dir) => {
    const raw = await makeExt4(dir);
    const fromFile = join(dir, 'file.qcow2');
    const fromPipe = join(dir, 'pipe.qcow2');
    const file = await runCli(['convert', '-O', 'qcow2', raw, fromFile]);
    t.is(file.code, 0, file.stderr);
    // pipefail: the status is qcow2-stream's too, not only the last cat's.
    const pipe = await runCli([], { pipefail: true, shell: `cat '${raw}' | $QCOW2_STREAM convert -O qcow2 --spool-memory 1M --tmpdir '${dir}' - - | cat > '${fromPipe}'` });
    t.is(pipe.code, 0, pipe.stderr);
    t.true((await readFile(fromFile)).equals(await readFile(fromPipe)));
    const check = await qemuCheck(fromFile);
    t.is(check.code, 0, check.raw);
    t.true((await qemuCompare(raw, fromFile)).identical);
    t.deepEqual((await readdir(dir)).sort(), ['ext4.raw', 'file.qcow2', 'pipe.qcow2', 'tree']);
  });
});

qemuTest('stdin from a file is read as that file, nothing spooled; one already read into goes on from where it is', async (t) => {
  await withTempDir(async (dir) => {
    const raw = join(dir, 'in.raw');
    await writeFile(raw, Buffer.concat([randomBytes(512, 8), randomBytes(3 << 20, 9), Buffer.alloc(1 << 20), randomBytes(70_000, 10)]));
    const noSpool = `--spool-memory 0 --tmpdir '${join(dir, 'no-such-dir')}'`;
    const whole = await runCli([], { shell: `$QCOW2_STREAM convert -O qcow2 ${noSpool} - - < '${raw}'` });
    t.is(whole.code, 0, whole.stderr);
    const fromPath = await runCli(['convert', '-O', 'qcow2', raw, '-']);
    t.true(whole.stdout.equals(fromPath.stdout));
    // dd reads exactly one sector first: the image is what follows it.
    const rest = join(dir, 'rest.qcow2');
    const after = await runCli([], { shell: `(dd bs=512 count=1 of=/dev/null status=none; $QCOW2_STREAM convert -O qcow2 - '${rest}') < '${raw}'` });
    t.is(after.code, 0, after.stderr);
    const tail = join(dir, 'tail.raw');
    await writeFile(tail, (await readFile(raw)).subarray(512));
    t.true((await qemuCompare(tail, rest)).identical);
  });
});

qemuTest('-o options reach the image: compat, cluster_size, refcount_bits', async (t) => {
  await withTempDir(async (dir) => {
    const raw = join(dir, 'in.raw');
    await writeFile(raw, randomBytes(300_000, 5));
    const out = join(dir, 'out.qcow2');
    const result = await runCli(['convert', '-f', 'raw', '-O', 'qcow2', '-o', 'compat=0.10,cluster_size=4k', '-o', 'refcount_bits=16', '--size', '1M', raw, out]);
    t.is(result.code, 0, result.stderr);
    const { stdout } = await run('qemu-img', ['info', '--output=json', out]);
    const info = JSON.parse(stdout) as { 'virtual-size': number; 'cluster-size': number; 'format-specific': { data: { compat: string } } };
    t.is(info['virtual-size'], 1 << 20);
    t.is(info['cluster-size'], 4096);
    t.is(info['format-specific'].data.compat, '0.10');
  });
});

/** Runs a failing conversion and checks: exit status, one-line message matching `pattern`, nothing left behind. */
async function expectFailure(t: import('ava').ExecutionContext, dir: string, args: string[], code: number, pattern: RegExp, options: { withoutDacOverride?: boolean; input?: Uint8Array } = {}) {
  const before = (await readdir(dir)).sort();
  const result = await runCli(args, { cwd: dir, ...options });
  t.is(result.code, code, `exit status for ${args.join(' ')}: ${result.stderr}`);
  t.true(isOneLineError(result.stderr), `not one line: ${JSON.stringify(result.stderr)}`);
  t.regex(result.stderr, pattern);
  t.deepEqual((await readdir(dir)).sort(), before, 'the failed run left files behind');
}

test('bad input: each gives one line, a non-zero exit and no output file', async (t) => {
  await withTempDir(async (dir) => {
    await writeFile(join(dir, 'in.raw'), randomBytes(1 << 20, 9));
    await expectFailure(t, dir, ['convert', '-O', 'qcow2', 'missing.raw', 'out.qcow2'], 1, /cannot open 'missing.raw': no such file or directory/);
    await expectFailure(t, dir, ['convert', '-O', 'qcow2', '--size', '512', 'in.raw', 'out.qcow2'], 1, /longer than the stated size of 512 bytes/);
    await expectFailure(t, dir, ['convert', '-O', 'qcow2', '--size', '1000', 'in.raw', 'out.qcow2'], 2, /size.*not a multiple of 512/);
    await expectFailure(t, dir, ['convert', '-O', 'qcow2', '-o', 'cluster_size=1000', 'in.raw', 'out.qcow2'], 2, /cluster_size/);
    await expectFailure(t, dir, ['convert', '-O', 'qcow2', '-o', 'cluster_size=4M', 'in.raw', 'out.qcow2'], 2, /cluster_size/);
    await expectFailure(t, dir, ['convert', '-O', 'qcow2', '-o', 'refcount_bits=3', 'in.raw', 'out.qcow2'], 2, /refcount_bits/);
    await expectFailure(t, dir, ['convert', '-O', 'qcow2', '-o', 'compat=0.10,refcount_bits=64', 'in.raw', 'out.qcow2'], 2, /refcount_bits/);
    await expectFailure(t, dir, ['convert', '-O', 'qcow2', '-o', 'compat=0.9', 'in.raw', 'out.qcow2'], 2, /compat/);
    await expectFailure(t, dir, ['convert', '-O', 'qcow2', '-o', 'colour=blue', 'in.raw', 'out.qcow2'], 2, /colour.*unknown option/);
    await expectFailure(t, dir, ['convert', '-O', 'vmdk', 'in.raw', 'out.qcow2'], 2, /-O/);
    await expectFailure(t, dir, ['convert', '-O', 'qcow2', 'in.raw'], 2, /needs SRC and DST/);
    await expectFailure(t, dir, ['convert', '--frobnicate', '-O', 'qcow2', 'in.raw', 'out.qcow2'], 2, /frobnicate/);
    await expectFailure(t, dir, ['convert', '-O', 'qcow2', '.', 'out.qcow2'], 1, /'\.'/);
    await expectFailure(t, dir, ['convert', '-O', 'qcow2', 'in.raw', 'no/such/dir/out.qcow2'], 1, /no such file or directory/);
  });
});

test('an unreadable source fails with permission denied', async (t) => {
  await withTempDir(async (dir) => {
    await writeFile(join(dir, 'secret.raw'), randomBytes(4096, 1));
    await chmod(join(dir, 'secret.raw'), 0o000);
    // Root reads anything: drop the capabilities that allow it.
    const options = process.getuid?.() === 0 ? { withoutDacOverride: true } : {};
    await expectFailure(t, dir, ['convert', '-O', 'qcow2', 'secret.raw', 'out.qcow2'], 1, /cannot open 'secret.raw': permission denied/, options);
  });
});

qemuTest('a raw file source spools nothing, read twice (to a pipe) or once head last (to a file): no spool memory, no temp directory', async (t) => {
  await withTempDir(async (dir) => {
    const raw = await makeExt4(dir);
    const noSpool = ['--spool-memory', '0', '--tmpdir', join(dir, 'no-such-dir')];
    const out = join(dir, 'out.qcow2');
    const toFile = await runCli(['convert', '-O', 'qcow2', ...noSpool, raw, out]);
    t.is(toFile.code, 0, toFile.stderr);
    const check = await qemuCheck(out);
    t.is(check.code, 0, check.raw);
    t.true((await qemuCompare(raw, out)).identical);
    // To a pipe the head must come first: the file is read twice, the first time for its map.
    const toPipe = await runCli([], { pipefail: true, shell: `$QCOW2_STREAM convert -O qcow2 ${noSpool.join(' ')} '${raw}' - | cat > '${out}.piped'` });
    t.is(toPipe.code, 0, toPipe.stderr);
    t.true((await qemuCompare(raw, `${out}.piped`)).identical);
    // The same options do stop a conversion that needs the spool: the same bytes from a pipe.
    const fromPipe = await runCli([], { shell: `cat '${raw}' | $QCOW2_STREAM convert -O qcow2 ${noSpool.join(' ')} - '${out}.from-pipe'` });
    t.is(fromPipe.code, 1, fromPipe.stderr);
    t.regex(fromPipe.stderr, /no-such-dir/);
  });
});

test('a full disk fails with no space left and leaves nothing behind', async (t) => {
  await withTempDir(async (dir) => {
    const raw = join(dir, 'in.raw');
    await writeFile(raw, randomBytes(4 << 20, 2));
    // A device is written in place: still the device after the failure, nothing beside it.
    const full = await runCli(['convert', '-O', 'qcow2', raw, '/dev/full']);
    t.is(full.code, 1);
    t.true(isOneLineError(full.stderr), full.stderr);
    t.regex(full.stderr, /cannot write '\/dev\/full': no space left on device/);
    t.true((await stat('/dev/full')).isCharacterDevice(), '/dev/full was replaced');
    t.deepEqual((await readdir('/dev')).filter((name) => name.includes('full') && name !== 'full'), []);

    // A real 1 MiB filesystem where we may mount one (root, outside a locked-down container):
    // the output fills it, then the spool does; each time the space comes back.
    const mounted = await withSmallFilesystem(dir, '1M', async (small) => {
      const free = (await statfs(small)).bfree;
      await expectFailure(t, small, ['convert', '-O', 'qcow2', raw, 'out.qcow2'], 1, /cannot write '.*out\.qcow2': no space left on device/);
      t.is((await statfs(small)).bfree, free, 'the partial output\'s blocks were not freed');
      const spooled = await runCli([], { shell: `cat '${raw}' | $QCOW2_STREAM convert -O qcow2 --spool-memory 64k --tmpdir '${small}' - '${join(dir, 'out.qcow2')}'` });
      t.is(spooled.code, 1, spooled.stderr);
      t.true(isOneLineError(spooled.stderr), spooled.stderr);
      t.regex(spooled.stderr, /spool file in '.*tmpfs-1M': no space left on device/);
      t.is((await statfs(small)).bfree, free, 'the spool\'s blocks were not freed');
      t.deepEqual(await readdir(small), []);
    });
    if (!mounted) {
      noSmallFilesystem(t, 'a file destination or a spool filling its filesystem');
      // Without a mount, the spool's own disk limit stands in for a full disk.
      await expectFailure(t, dir, ['convert', '-O', 'qcow2', '--spool-memory', '64k', '--spool-disk', '1M', '--tmpdir', dir, '-', 'out.qcow2'], 1, /spool needs more than 1048576 bytes/, { input: await readFile(raw) });
    }
    t.false((await readdir(dir)).some((name) => name.includes('out.qcow2')), 'a file under the destination\'s name was left');
  });
});

test('a reader that closes stdout early ends the run with a one-line error', async (t) => {
  await withTempDir(async (dir) => {
    const raw = join(dir, 'in.raw');
    await writeFile(raw, randomBytes(8 << 20, 4));
    const result = await runCli([], { shell: `$QCOW2_STREAM convert -O qcow2 '${raw}' - | head -c 100 > /dev/null` });
    t.regex(result.stderr, /qcow2-stream: cannot write 'stdout': the reader closed the pipe \(EPIPE\)/);
    t.notRegex(result.stderr, /\n\s+at /);
  });
});

test('SIGTERM mid-conversion: dies of SIGTERM (status 143 in a shell), leaves no temp file', async (t) => {
  await withTempDir(async (dir) => {
    const child = spawn(process.execPath, [CLI, 'convert', '-O', 'qcow2', '-', 'out.qcow2'], { cwd: dir });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin.on('error', () => {});
    child.stdin.write(randomBytes(3_000_000, 8));
    // Mid-conversion: the input is open, the output's temp file exists.
    for (let i = 0; i < 100 && (await readdir(dir)).length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    t.is((await readdir(dir)).length, 1, 'the temp output should exist while converting');
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('close', (_code, signal) => resolve(signal)));
    child.kill('SIGTERM');
    t.is(await exited, 'SIGTERM');
    t.regex(stderr, /interrupted by SIGTERM/);
    t.deepEqual(await readdir(dir), []);
  });
});

test('--help documents every option convert accepts', async (t) => {
  const result = await runCli(['convert', '--help']);
  t.is(result.code, 0);
  t.is(result.stdout.toString().trim(), CONVERT_HELP);
  for (const [name, spec] of Object.entries(CONVERT_OPTIONS)) {
    const flag = name.length === 1 ? `-${name}` : `--${name}`;
    t.true(CONVERT_HELP.includes(flag), `${flag} is not in --help`);
    if ('short' in spec && spec.short) t.true(CONVERT_HELP.includes(`-${spec.short}`));
  }
  for (const key of ['compat', 'cluster_size', 'refcount_bits', 'size']) t.true(CONVERT_HELP.includes(`${key}=`), `-o ${key} is not in --help`);
});

test('help COMMAND prints that command\'s help; an unknown command is a usage error', async (t) => {
  t.is((await runCli(['help', 'convert'])).stdout.toString().trim(), CONVERT_HELP);
  const unknown = await runCli(['frobnicate']);
  t.is(unknown.code, 2);
  t.true(isOneLineError(unknown.stderr), unknown.stderr);
});

test('--version prints the package version', async (t) => {
  const result = await runCli(['--version']);
  const pkg = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  t.is(result.stdout.toString().trim(), `qcow2-stream ${pkg.version}`);
});
