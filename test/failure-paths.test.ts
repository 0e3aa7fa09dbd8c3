/**
 * Failure paths lose nothing: a source that fails, a consumer that stops, a process killed
 * mid-write. No output file that looks complete, no temp or spool file left, the error named.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { IoError } from '../src/errors.js';
import { toQcow2 } from '../src/node/convert.js';
import { writeFileAtomically } from '../src/node/file-sink.js';
import { rawClusters } from '../src/node/raw-source.js';
import { createRawToQcow2Stream } from '../src/node/streams.js';
import { CLI } from './helpers/cli.js';
import { join, randomBytes, withTempDir } from './helpers/files.js';

async function* failingSource(bytes: number): AsyncGenerator<Uint8Array> {
  for (let sent = 0; sent < bytes; sent += 65536) yield randomBytes(65536, sent + 1);
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
    const raw = join(dir, 'in.raw');
    await writeFile(raw, randomBytes(8 << 20, 3));
    const child = spawn('sh', ['-c', `(cat '${raw}'; sleep 5) | exec "${process.execPath}" "${CLI}" convert -c -O qcow2 --spool-memory 64k --tmpdir '${spool}' - '${join(dir, 'out.qcow2')}'`], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 1500));
    child.kill('SIGKILL');
    await new Promise((r) => child.on('close', r));
    const left = await readdir(dir);
    t.false(left.includes('out.qcow2'), 'a file under the destination name survived');
    // A killed process cannot remove its temporary output; its name says it is partial.
    t.true(left.every((name) => name === 'in.raw' || name === 'spool' || /^\.out\.qcow2\.[0-9a-f]+\.partial$/.test(name)), left.join(', '));
    t.deepEqual(await readdir(spool), [], 'the spool file must be unlinked from the start');
  });
});
