/** The programs in samples/ run, and what they write is what qemu-img expects. */
import { execFile, spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { runCli } from './helpers/cli.js';
import { join, randomBytes, withTempDir } from './helpers/files.js';
import { qemuCheck, qemuCompare, qemuTest } from './helpers/qemu.js';
import { s3Env, startS3 } from './helpers/servers.js';

const run = promisify(execFile);
const samples = fileURLToPath(new URL('../../samples/', import.meta.url));

qemuTest('make-sample and raw-to-qcow2-with-it-pipe produce a clean qcow2 of the sample, byte for byte the CLI\'s', async (t) => {
  await withTempDir(async (dir) => {
    // As npm run sample makes them: README says the two are byte-identical.
    const raw = join(dir, 'sample.raw');
    const cli = join(dir, 'sample.qcow2');
    const library = join(dir, 'sample-it-pipe.qcow2');
    await run(process.execPath, [join(samples, 'make-sample.js'), raw]);
    const converted = await runCli(['convert', '-O', 'qcow2', raw, cli]);
    t.is(converted.code, 0, converted.stderr);
    await run(process.execPath, [join(samples, 'raw-to-qcow2-with-it-pipe.js'), raw, library]);
    t.true((await readFile(library)).equals(await readFile(cli)), 'sample-it-pipe.qcow2 and sample.qcow2 differ');
    const check = await qemuCheck(library);
    t.is(check.code, 0, check.raw);
    t.true((await qemuCompare(raw, library)).identical);
  });
});

qemuTest('raw-to-compressed-qcow2 writes a clean compressed image', async (t) => {
  await withTempDir(async (dir) => {
    const raw = join(dir, 'sample.raw');
    const out = join(dir, 'sample.qcow2');
    await run(process.execPath, [join(samples, 'make-sample.js'), raw]);
    const { stdout } = await run(process.execPath, [join(samples, 'raw-to-compressed-qcow2.js'), raw, out]);
    t.regex(stdout, /compressed \(planned \d+\)/);
    const check = await qemuCheck(out);
    t.is(check.code, 0, check.raw);
    t.true((await qemuCompare(raw, out)).identical);
    const { stdout: info } = await run('qemu-img', ['check', out]);
    t.notRegex(info, / 0\.00% compressed clusters/);
  });
});

/** Starts a sample that prints its address on its first line; resolves with it and a stopper. */
async function startSample(args: string[]): Promise<{ address: string; stop: () => void }> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    let text = '';
    child.stdout.on('data', (d: Buffer) => {
      text += d.toString();
      if (text.includes('\n')) resolve(text);
    });
    child.on('exit', (code) => reject(new Error(`sample exited with ${code}`)));
  });
  return { address: /http:\/\/[\d.:]+/.exec(line)![0], stop: () => child.kill() };
}

qemuTest('serve-raw-as-qcow2 serves a clean qcow2 with its Content-Length; download-qcow2-to-raw reads it back', async (t) => {
  await withTempDir(async (dir) => {
    await run(process.execPath, [join(samples, 'make-sample.js'), join(dir, 'disk.raw')]);
    const server = await startSample([join(samples, 'serve-raw-as-qcow2.js'), dir, '0']);
    try {
      const response = await fetch(`${server.address}/disk.qcow2`);
      t.is(response.status, 200);
      const body = Buffer.from(await response.arrayBuffer());
      t.is(Number(response.headers.get('content-length')), body.length);
      await writeFile(join(dir, 'served.qcow2'), body);
      const check = await qemuCheck(join(dir, 'served.qcow2'));
      t.is(check.code, 0, check.raw);
      t.true((await qemuCompare(join(dir, 'disk.raw'), join(dir, 'served.qcow2'))).identical);
      t.is((await fetch(`${server.address}/missing.qcow2`)).status, 404);

      const { stdout } = await run(process.execPath, [join(samples, 'download-qcow2-to-raw.js'), `${server.address}/disk.qcow2`, join(dir, 'back.raw')]);
      t.regex(stdout, /bytes of data from \d+ bytes of qcow2/);
      t.true((await readFile(join(dir, 'back.raw'))).equals(await readFile(join(dir, 'disk.raw'))));
    } finally {
      server.stop();
    }
  });
});

qemuTest('upload-raw-to-s3 puts a clean compressed qcow2 on an S3-compatible store', async (t) => {
  const store = await startS3();
  try {
    await withTempDir(async (dir) => {
      const raw = join(dir, 'disk.raw');
      // Bigger than one 8 MiB part once compressed, so it goes up head last.
      const disk = new Uint8Array(24 << 20);
      for (let mib = 0; mib < 24; mib += 2) disk.set(randomBytes(1 << 20, mib + 1), mib << 20);
      await writeFile(raw, disk);
      const { stdout } = await run(process.execPath, [join(samples, 'upload-raw-to-s3.js'), raw, 'bucket', 'disk.qcow2'], { env: { ...process.env, ...s3Env(store) } });
      t.regex(stdout, /s3:\/\/bucket\/disk\.qcow2: \d+ bytes/);
      t.true(store.requests.some((r) => r.query.get('partNumber') === '1'), 'expected a multipart upload');
      const result = await runCli(['convert', '-O', 'raw', 's3://bucket/disk.qcow2', join(dir, 'back.raw')], { env: s3Env(store) });
      t.is(result.code, 0, result.stderr);
      t.true((await readFile(join(dir, 'back.raw'))).equals(disk));
    });
  } finally {
    await store.close();
  }
});
