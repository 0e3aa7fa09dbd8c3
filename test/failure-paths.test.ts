/**
 * Failure paths lose nothing: a source that fails, a consumer that stops, a process killed
 * mid-write. No output file that looks complete, no temp or spool file left, the error named.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdir, readdir } from 'node:fs/promises';
import { IoError } from '../src/errors.js';
import { toQcow2 } from '../src/node/convert.js';
import { writeFileAtomically } from '../src/node/file-sink.js';
import { rawClusters } from '../src/node/raw-source.js';
import { createRawToQcow2Stream } from '../src/node/streams.js';
import { CLI } from './helpers/cli.js';
import { join, randomBytes, withSmallFilesystem, withTempDir } from './helpers/files.js';

async function* randomSource(bytes: number): AsyncGenerator<Uint8Array> {
  for (let sent = 0; sent < bytes; sent += 65536) yield randomBytes(65536, sent + 1);
}

async function* failingSource(bytes: number): AsyncGenerator<Uint8Array> {
  yield* randomSource(bytes);
  throw new IoError("cannot read 'socket': connection reset (ECONNRESET)");
}

test('a source that fails mid-stream: the error surfaces, no output, no spool file', async (t) => {
  await withTempDir(async (dir) => {
    const spool = join(dir, 'spool');
    await mkdir(spool);
    const out = join(dir, 'out.qcow2');
    const error = await t.throwsAsync(writeFileAtomically(out, toQcow2(rawClusters(failingSource(3 << 20), { clusterSize: 65536 }), { memoryLimit: 65536, tempDir: spool, compress: true })));
    t.regex(error?.message ?? '', /connection reset/);
    t.deepEqual(await readdir(dir), ['spool']);
    t.deepEqual(await readdir(spool), []);
  });
});

test('a sink that fails mid-write: the error surfaces, the spool is removed', async (t) => {
  await withTempDir(async (dir) => {
    const chunks = toQcow2(rawClusters(randomSource(3 << 20), { clusterSize: 65536 }), { memoryLimit: 65536, tempDir: dir });
    let written = 0;
    const error = await t.throwsAsync(async () => {
      for await (const chunk of chunks) {
        written += chunk.length;
        if (written > 65536) throw new IoError("cannot write 's3://bucket/disk.qcow2': connection reset (ECONNRESET)");
      }
    });
    t.regex(error?.message ?? '', /s3:\/\/bucket/);
    t.deepEqual(await readdir(dir), []);
  });
});

test('the spool fills its filesystem: no space left, named; no output, no spool file', async (t) => {
  await withTempDir(async (dir) => {
    const mounted = await withSmallFilesystem(dir, '1M', async (small) => {
      const out = join(dir, 'out.qcow2');
      const source = rawClusters(randomSource(4 << 20), { clusterSize: 65536 });
      const error = await t.throwsAsync(writeFileAtomically(out, toQcow2(source, { memoryLimit: 65536, tempDir: small })));
      t.regex(error?.message ?? '', /no space left on device \(ENOSPC\)/);
      t.deepEqual(await readdir(small), []);
      t.false((await readdir(dir)).some((name) => name.includes('out.qcow2')));
    });
    if (!mounted) t.log('tmpfs mount not permitted here: the spool could not be made to fill');
  });
});

test('a consumer that stops reading: the stream face is destroyed, the spool goes with it', async (t) => {
  await withTempDir(async (dir) => {
    const converter = createRawToQcow2Stream({ tempDir: dir, memoryLimit: 65536 });
    const errors: unknown[] = [];
    converter.on('error', (e: unknown) => errors.push(e));
    for (let i = 0; i < 40; i++) converter.write(randomBytes(65536, i + 1));
    await new Promise((r) => setTimeout(r, 100));
    const closed = new Promise<void>((resolve) => converter.on('close', () => resolve()));
    converter.destroy();
    await closed;
    t.deepEqual(await readdir(dir), []);
  });
});

test('killed with SIGKILL mid-write: no file under the destination name, no spool file', async (t) => {
  await withTempDir(async (dir) => {
    const spool = join(dir, 'spool');
    await mkdir(spool);
    const child = spawn(process.execPath, [CLI, 'convert', '-c', '-O', 'qcow2', '--spool-memory', '64k', '--tmpdir', spool, '-', join(dir, 'out.qcow2')], { stdio: ['pipe', 'ignore', 'ignore'] });
    const closed = new Promise<NodeJS.Signals | null>((resolve) => child.on('close', (_code, signal) => resolve(signal)));
    child.stdin.on('error', () => {});
    child.stdin.write(randomBytes(8 << 20, 3)); // and the input never ends
    // Mid-write: the temporary output exists and data is spooling.
    for (let i = 0; i < 100 && !(await readdir(dir)).some((name) => name.endsWith('.partial')); i++) await new Promise((r) => setTimeout(r, 50));
    t.true((await readdir(dir)).some((name) => name.endsWith('.partial')), 'the temporary output should exist mid-write');
    child.kill('SIGKILL');
    t.is(await closed, 'SIGKILL');
    const left = await readdir(dir);
    t.false(left.includes('out.qcow2'), 'a file under the destination name survived');
    // A killed process cannot remove its temporary output; its name says it is partial.
    t.true(left.every((name) => name === 'spool' || /^\.out\.qcow2\.[0-9a-f]+\.partial$/.test(name)), left.join(', '));
    t.deepEqual(await readdir(spool), [], 'the spool file must be unlinked from the start');
  });
});
