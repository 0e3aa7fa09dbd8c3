/**
 * Failure paths lose nothing: a source that fails, a consumer that stops, a process killed
 * mid-write. No output file that looks complete, no temp file left, no spool file left open
 * (nor, killed, named: spools are unlinked from the start), the error named.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdir, readdir, statfs } from 'node:fs/promises';
import { IoError, LimitError } from '../src/errors.js';
import { toQcow2 } from '../src/node/convert.js';
import { writeFileAtomically } from '../src/node/file-sink.js';
import { rawClusters } from '../src/node/raw-source.js';
import { createRawToQcow2Stream } from '../src/node/streams.js';
import { CLI } from './helpers/cli.js';
import { allUnlinked, join, noSmallFilesystem, openFilesUnder, randomBytes, whenSeen, withSmallFilesystem, withTempDir } from './helpers/files.js';

async function* randomSource(bytes: number): AsyncGenerator<Uint8Array> {
  for (let sent = 0; sent < bytes; sent += 65536) yield randomBytes(65536, sent + 1);
}

/** Fails after `bytes`, once `beforeFailing` has looked around. */
async function* failingSource(bytes: number, beforeFailing: () => Promise<void>): AsyncGenerator<Uint8Array> {
  yield* randomSource(bytes);
  await beforeFailing();
  throw new IoError("cannot read 'socket': connection reset (ECONNRESET)");
}

// Spool files are unlinked as soon as they are created, so no directory listing ever shows
// one: what shows whether a spool was used and then let go is this process's descriptors.

test('a source that fails mid-stream: the error surfaces, no output, the spool file closed', async (t) => {
  await withTempDir(async (dir) => {
    const spool = join(dir, 'spool');
    await mkdir(spool);
    const out = join(dir, 'out.qcow2');
    let inUse: string[] = [];
    // 8 MiB: more than the compressor holds in flight (2 threads), so data reaches the spool.
    const source = failingSource(8 << 20, async () => void (inUse = await openFilesUnder(spool)));
    const error = await t.throwsAsync(writeFileAtomically(out, toQcow2(rawClusters(source, { clusterSize: 65536 }), { memoryLimit: 65536, tempDir: spool, compress: true, threads: 2 })));
    t.regex(error?.message ?? '', /connection reset/);
    t.is(inUse.length, 1, `the spool should have spilled to one temp file before the failure: ${inUse.join(', ')}`);
    t.true(allUnlinked(inUse), inUse.join(', '));
    t.deepEqual(await openFilesUnder(spool), [], 'the spool file is still open');
    t.deepEqual(await readdir(dir), ['spool']);
  });
});

test('a sink that fails mid-write: the error surfaces, the spool file is closed', async (t) => {
  await withTempDir(async (dir) => {
    const chunks = toQcow2(rawClusters(randomSource(3 << 20), { clusterSize: 65536 }), { memoryLimit: 65536, tempDir: dir });
    let written = 0;
    let inUse: string[] = [];
    const error = await t.throwsAsync(async () => {
      for await (const chunk of chunks) {
        written += chunk.length;
        if (written > 65536) {
          inUse = await openFilesUnder(dir);
          throw new IoError("cannot write 's3://bucket/disk.qcow2': connection reset (ECONNRESET)");
        }
      }
    });
    t.regex(error?.message ?? '', /s3:\/\/bucket/);
    t.is(inUse.length, 1, 'the spool should be a temp file while its data is written out');
    t.deepEqual(await openFilesUnder(dir), [], 'the spool file is still open');
  });
});

test('the spool fills its filesystem: no space left, named; no output; the space comes back', async (t) => {
  await withTempDir(async (dir) => {
    const out = join(dir, 'out.qcow2');
    const source = () => rawClusters(randomSource(4 << 20), { clusterSize: 65536 });
    const mounted = await withSmallFilesystem(dir, '1M', async (small) => {
      const free = (await statfs(small)).bfree;
      const error = await t.throwsAsync(writeFileAtomically(out, toQcow2(source(), { memoryLimit: 65536, tempDir: small })));
      t.regex(error?.message ?? '', /no space left on device \(ENOSPC\)/);
      t.deepEqual(await openFilesUnder(small), [], 'the spool file is still open');
      t.is((await statfs(small)).bfree, free, 'the spool\'s blocks were not freed');
      t.false((await readdir(dir)).some((name) => name.includes('out.qcow2')));
    });
    if (mounted) return;
    noSmallFilesystem(t, 'a spool filling its filesystem');
    // Without a mount, the nearest thing: the spool's own disk limit, reached mid-run.
    const error = await t.throwsAsync(writeFileAtomically(out, toQcow2(source(), { memoryLimit: 65536, diskLimit: 1 << 20, tempDir: dir })));
    t.true(error instanceof LimitError, `${error?.constructor.name}: ${error?.message}`);
    t.deepEqual(await openFilesUnder(dir), [], 'the spool file is still open');
    t.false((await readdir(dir)).some((name) => name.includes('out.qcow2')));
  });
});

test('a consumer that stops reading: the stream face is destroyed, the spool goes with it', async (t) => {
  await withTempDir(async (dir) => {
    const converter = createRawToQcow2Stream({ tempDir: dir, memoryLimit: 65536 });
    const errors: unknown[] = [];
    converter.on('error', (e: unknown) => errors.push(e));
    for (let i = 0; i < 40; i++) converter.write(randomBytes(65536, i + 1));
    const inUse = await whenSeen(() => openFilesUnder(dir));
    t.is(inUse.length, 1, 'the spool should have spilled to a temp file');
    const closed = new Promise<void>((resolve) => converter.on('close', () => resolve()));
    converter.destroy();
    await closed;
    t.deepEqual(await openFilesUnder(dir), [], 'the spool file is still open');
  });
});

test('killed with SIGKILL mid-write: no file under the destination name, no spool file', async (t) => {
  await withTempDir(async (dir) => {
    const spool = join(dir, 'spool');
    await mkdir(spool);
    const child = spawn(process.execPath, [CLI, 'convert', '-c', '-O', 'qcow2', '--spool-memory', '64k', '--tmpdir', spool, '-', join(dir, 'out.qcow2')], { stdio: ['pipe', 'ignore', 'ignore'] });
    const closed = new Promise<NodeJS.Signals | null>((resolve) => child.on('close', (_code, signal) => resolve(signal)));
    try {
      child.stdin.on('error', () => {});
      child.stdin.write(randomBytes(8 << 20, 3)); // and the input never ends
      // Mid-write: the temporary output exists and data is spooling.
      for (let i = 0; i < 100 && !(await readdir(dir)).some((name) => name.endsWith('.partial')); i++) await new Promise((r) => setTimeout(r, 50));
      t.true((await readdir(dir)).some((name) => name.endsWith('.partial')), 'the temporary output should exist mid-write');
      // And the spool: open, unlinked, its private directory removed, so the kill cannot
      // leave it behind. (Both have names for a moment as it is made: the wait is for that.)
      let seen: string[] = [];
      let named: string[] = [];
      const settled = async () => ((seen = await openFilesUnder(spool, child.pid!)), (named = await readdir(spool)), seen.length > 0 && allUnlinked(seen) && named.length === 0 ? seen : []);
      const inUse = await whenSeen(settled);
      t.is(inUse.length, 1, `the spool should be one open, unlinked temp file by now: ${seen.join(', ') || 'none open'}; in its directory: ${named.join(', ')}`);
    } finally {
      child.kill('SIGKILL');
    }
    t.is(await closed, 'SIGKILL');
    const left = await readdir(dir);
    t.false(left.includes('out.qcow2'), 'a file under the destination name survived');
    // A killed process cannot remove its temporary output; its name says it is partial.
    t.true(left.every((name) => name === 'spool' || /^\.out\.qcow2\.[0-9a-f]+\.partial$/.test(name)), left.join(', '));
    t.deepEqual(await readdir(spool), [], 'the spool left its directory behind');
  });
});
