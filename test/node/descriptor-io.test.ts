/**
 * Pipes and sockets read and written on their descriptors: non-blocking descriptors, a pipe's
 * capacity raised (and the fallback where it cannot be), a slow consumer holding memory flat.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { readDescriptor } from '../../src/node/descriptor-source.js';
import { fsExt } from '../../src/node/fs-ext.js';
import { raisePipeCapacity } from '../../src/node/pipe-capacity.js';
import { CLI, runCli } from '../helpers/cli.js';
import { collect, join, randomBytes, withTempDir } from '../helpers/files.js';
import { run } from '../helpers/corpus.js';

const F_GETPIPE_SZ = 1032;
const WITHOUT_FS_EXT = fileURLToPath(new URL('../helpers/without-fs-ext.js', import.meta.url));
const inCi = process.env.CI === 'true' || process.env.CI === '1';

/** Sets O_NONBLOCK on the descriptors named, then becomes the command (a shell cannot do it). */
const NONBLOCKING = `import fcntl, os, sys
for fd in map(int, sys.argv[1].split(',')):
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
os.execvp(sys.argv[2], sys.argv[2:])`;

/** Writes a file to stdout in 64 KiB pieces, `pause` seconds apart. */
const TRICKLE = `import sys, time
with open(sys.argv[1], 'rb') as f:
    while True:
        piece = f.read(65536)
        if not piece: break
        sys.stdout.buffer.write(piece); sys.stdout.buffer.flush(); time.sleep(float(sys.argv[2]))`;

/** Reads stdin into a file, `pause` seconds between 64 KiB reads. */
const SLOW_READER = `import sys, time
with open(sys.argv[1], 'wb') as out:
    while True:
        piece = sys.stdin.buffer.read(65536)
        if not piece: break
        out.write(piece); time.sleep(float(sys.argv[2]))`;

const quote = (arg: string): string => `'${arg.replace(/'/g, "'\\''")}'`;

/** A raw image and our qcow2 of it, made the ordinary way (from files), to compare against. */
async function fixture(dir: string, size: number): Promise<{ raw: string; qcow2: string }> {
  const raw = join(dir, 'in.raw');
  const bytes = randomBytes(size, 5);
  bytes.fill(0, size / 4, size / 2); // some clusters the writer leaves out
  await writeFile(raw, bytes);
  const qcow2 = join(dir, 'ref.qcow2');
  const made = await runCli(['convert', '-O', 'qcow2', raw, qcow2]);
  if (made.code !== 0) throw new Error(made.stderr);
  for (const [name, source] of [['nonblocking.py', NONBLOCKING], ['trickle.py', TRICKLE], ['slow-reader.py', SLOW_READER]]) await writeFile(join(dir, name!), source!);
  return { raw, qcow2 };
}

/** user + system seconds of a bash pipeline's last command, from `time`. */
function cpuSeconds(stderr: string): number {
  const match = /CPU (\d+\.\d+) (\d+\.\d+)/.exec(stderr);
  if (!match) throw new Error(`no CPU times in: ${stderr}`);
  return Number(match[1]) + Number(match[2]);
}

test('stdin and stdout made non-blocking, fed and drained slowly: the image is whole, and waiting spins no CPU', async (t) => {
  await withTempDir(async (dir) => {
    const { raw, qcow2 } = await fixture(dir, 4 << 20);
    const out = join(dir, 'out.qcow2');
    // 64 pieces 30 ms apart: about 2 s of waiting for input, then a reader that takes 64 KiB every 10 ms.
    const shell = [
      `python3 ${quote(join(dir, 'trickle.py'))} ${quote(raw)} 0.03`,
      `{ TIMEFORMAT='CPU %U %S'; time python3 ${quote(join(dir, 'nonblocking.py'))} 0,1 $QCOW2_STREAM convert -O qcow2 - - ; }`,
      `python3 ${quote(join(dir, 'slow-reader.py'))} ${quote(out)} 0.01`,
    ].join(' | ');
    const started = Date.now();
    const result = await runCli([], { shell, pipefail: true });
    const wall = (Date.now() - started) / 1000;
    t.is(result.code, 0, result.stderr);
    t.true((await readFile(out)).equals(await readFile(qcow2)), 'the image differs from the one made from the file');
    t.true(wall > 1.5, `the trickle took ${wall} s`);
    // Node's start costs some 0.3 s of CPU; a loop on EAGAIN would burn the whole wait.
    t.true(cpuSeconds(result.stderr) < 0.5 * wall, `${cpuSeconds(result.stderr)} s of CPU in ${wall} s`);
  });
});

test('a qcow2 stream read from non-blocking stdin into non-blocking stdout gives the raw image', async (t) => {
  await withTempDir(async (dir) => {
    const { raw, qcow2 } = await fixture(dir, 3 << 20);
    const out = join(dir, 'out.raw');
    const shell = `python3 ${quote(join(dir, 'trickle.py'))} ${quote(qcow2)} 0.005 | python3 ${quote(join(dir, 'nonblocking.py'))} 0,1 $QCOW2_STREAM convert -f qcow2 -O raw - - | python3 ${quote(join(dir, 'slow-reader.py'))} ${quote(out)} 0.002`;
    const result = await runCli([], { shell, pipefail: true });
    t.is(result.code, 0, result.stderr);
    t.true((await readFile(out)).equals(await readFile(raw)));
  });
});

function withFifo<T>(dir: string, body: (path: string, fd: number) => Promise<T>): Promise<T> {
  return (async () => {
    const path = join(dir, 'fifo');
    await run('mkfifo', [path]);
    // O_RDWR opens a FIFO on Linux without waiting for the other end.
    const fd = openSync(path, 'r+');
    try {
      return await body(path, fd);
    } finally {
      closeSync(fd);
    }
  })();
}

test('a pipe\'s capacity is raised to 1 MiB (or pipe-max-size) where the kernel lets it, and left as it is where it does not', async (t) => {
  const ext = fsExt();
  if (!ext) {
    if (inCi) t.fail('fs-ext did not build: the pipe capacity cannot be tested');
    return t.pass('no fs-ext here: capacities cannot be read');
  }
  const max = Math.min(1 << 20, Number((await readFile('/proc/sys/fs/pipe-max-size', 'utf8')).trim()));
  await withTempDir((dir) =>
    withFifo(dir, async (_path, fd) => {
      t.is(ext.fcntlSync(fd, F_GETPIPE_SZ, 0), 65536, 'a new pipe holds 64 KiB');
      t.is(raisePipeCapacity(fd), max);
      t.is(ext.fcntlSync(fd, F_GETPIPE_SZ, 0), max);
      t.is(raisePipeCapacity(fd), max, 'asking again changes nothing');
    }),
  );
  await withTempDir((dir) =>
    withFifo(dir, async (_path, fd) => {
      // A kernel that says no, as past a user's pipe quota: the capacity it has stays.
      const refusing = (fdArg: number, command: number, argument?: number): number => {
        if (command === F_GETPIPE_SZ) return ext.fcntlSync(fdArg, command, argument);
        throw Object.assign(new Error('EPERM'), { code: 'EPERM' });
      };
      t.is(raisePipeCapacity(fd, refusing), 65536);
      t.is(ext.fcntlSync(fd, F_GETPIPE_SZ, 0), 65536);
      t.is(raisePipeCapacity(fd, null), undefined, 'without fcntl nothing is known');
    }),
  );
});

/** Converts the raw image arriving in a FIFO we write, and returns the FIFO's capacity seen while the CLI reads it. */
async function convertFromFifo(dir: string, raw: string, out: string, env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string; capacity: number }> {
  const ext = fsExt()!;
  const path = join(dir, `fifo-${Date.now()}`);
  await run('mkfifo', [path]);
  // Both ends at once (O_RDWR opens a FIFO on Linux without waiting), to see the capacity from here.
  const both = openSync(path, 'r+');
  const child = spawn(process.execPath, [CLI, 'convert', '-f', 'raw', '-O', 'qcow2', path, out], { env: { ...process.env, QCOW2_STREAM_DEBUG_BUFFERS: '1', ...env } });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<number | null>((resolve) => child.on('close', resolve));
  const bytes = await readFile(raw);
  // A first piece, then time for the CLI to open the FIFO and raise its capacity.
  writeSync(both, bytes.subarray(0, 4096));
  let capacity = ext.fcntlSync(both, F_GETPIPE_SZ, 0);
  for (let i = 0; i < 100 && capacity === 65536; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    capacity = ext.fcntlSync(both, F_GETPIPE_SZ, 0);
  }
  // The rest through a write-only end, so that closing it is the end of input.
  const writer = openSync(path, 'w');
  closeSync(both);
  for (let at = 4096; at < bytes.length; at += 1 << 20) writeSync(writer, bytes.subarray(at, Math.min(at + (1 << 20), bytes.length)));
  closeSync(writer);
  return { code: await done, stderr, capacity };
}

test('a FIFO source is read on its descriptor with its capacity raised; without fs-ext it is read as it is, the same image either way', async (t) => {
  if (!fsExt()) {
    if (inCi) t.fail('fs-ext did not build');
    return t.pass('no fs-ext here');
  }
  await withTempDir(async (dir) => {
    const { raw, qcow2 } = await fixture(dir, 6 << 20);
    const raised = await convertFromFifo(dir, raw, join(dir, 'raised.qcow2'));
    t.is(raised.code, 0, raised.stderr);
    t.true(raised.capacity > 65536, `the FIFO kept ${raised.capacity} bytes of capacity`);
    t.true((await readFile(join(dir, 'raised.qcow2'))).equals(await readFile(qcow2)));
    const plain = await convertFromFifo(dir, raw, join(dir, 'plain.qcow2'), { NODE_OPTIONS: `--import ${WITHOUT_FS_EXT}` });
    t.is(plain.code, 0, plain.stderr);
    t.is(plain.capacity, 65536, 'without fs-ext the capacity cannot have changed');
    t.true((await readFile(join(dir, 'plain.qcow2'))).equals(await readFile(qcow2)));
  });
});

/** A child of `parent` whose command line names `script`, from /proc. */
async function childRunning(parent: number, script: string): Promise<number | undefined> {
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid !== parent) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.split('\0').includes(script)) return Number(entry);
  }
  return undefined;
}

/** The largest VmRSS of process `pid` seen until it exits, sampled every 20 ms. */
async function peakRss(pid: number, done: Promise<unknown>): Promise<number> {
  let peak = 0;
  let finished = false;
  void done.then(() => (finished = true));
  while (!finished) {
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    peak = Math.max(peak, kib * 1024);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return peak;
}

test('a slow consumer holds memory flat: the reader waits for the writer, however big the image', async (t) => {
  await withTempDir(async (dir) => {
    const size = 192 << 20;
    const raw = join(dir, 'in.raw');
    await writeFile(raw, randomBytes(size, 11));
    for (const [name, source] of [['slow-reader.py', SLOW_READER]]) await writeFile(join(dir, name!), source!);
    const qcow2 = join(dir, 'in.qcow2');
    t.is((await runCli(['convert', '-O', 'qcow2', raw, qcow2])).code, 0);
    const out = join(dir, 'out.raw');
    // 192 MiB through a reader that takes 64 KiB each 2 ms: about 6 s, while cat could send it all in a fraction of one.
    const child = spawn('bash', ['-o', 'pipefail', '-c', `cat ${quote(qcow2)} | exec ${quote(process.execPath)} ${quote(CLI)} convert -f qcow2 -O raw - - | python3 ${quote(join(dir, 'slow-reader.py'))} ${quote(out)} 0.002`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const done = new Promise<number | null>((resolve) => child.on('close', resolve));
    // The CLI is the pipeline's middle process: find it among bash's children.
    let pid: number | undefined;
    for (let i = 0; i < 100 && pid === undefined; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      pid = await childRunning(child.pid!, CLI);
    }
    if (pid === undefined) return t.fail('the CLI process was not found');
    const peak = await peakRss(pid, done);
    t.is(await done, 0, stderr);
    t.true((await readFile(out)).equals(await readFile(raw)));
    t.true(peak < 120 << 20, `peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB for a ${size >> 20} MiB image read faster than it is written`);
  });
});

test('a pipe that ends before its first chunk is asked for still gives every byte and its end', async (t) => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'fifo');
    await run('mkfifo', [path]);
    const both = openSync(path, 'r+');
    const reader = openSync(path, 'r'); // opens at once: `both` is a writer
    const bytes = randomBytes(60_000, 3); // less than a pipe holds: the write cannot block
    writeSync(both, bytes);
    closeSync(both); // the writer is gone: the pipe holds the bytes, then its end
    const chunks = readDescriptor(reader, 'the fifo');
    await new Promise((resolve) => setTimeout(resolve, 200)); // long enough for any read and the end to have come
    const back = await Promise.race([collect(chunks), new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 5000))]);
    t.truthy(back, 'the end never came');
    t.true(back!.equals(bytes));
  });
});
