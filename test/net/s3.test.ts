/**
 * S3 against s3rver (an S3-compatible server from npm) on loopback, behind a proxy that
 * keeps S3's part rules and records every request. qcow2 goes up head last: data parts
 * first, the head as part 1 at the end, nothing spooled; what arrives passes qemu-img check
 * and compares identical. A part that fails aborts the upload and leaves no object.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { runCli, isOneLineError } from '../helpers/cli.js';
import { join, randomBytes, withTempDir } from '../helpers/files.js';
import { makeExt4 } from '../helpers/inputs.js';
import { qemuCheck, qemuCompare, qemuTest } from '../helpers/qemu.js';
import { s3Env, startS3, type S3Store } from '../helpers/servers.js';

/** A raw disk with about 24 MiB of data: text, random and zero stripes, so parts go up compressed or not. */
function stripedDisk(): Uint8Array {
  const disk = new Uint8Array(40 << 20);
  const text = new TextEncoder().encode('head-last upload to S3; '.repeat(50_000));
  for (let mib = 0; mib < 40; mib++) {
    if (mib % 5 === 0) continue;
    disk.set(mib % 2 ? randomBytes(1 << 20, mib) : text.subarray(0, 1 << 20), mib << 20);
  }
  return disk;
}

async function download(store: S3Store, key: string, path: string): Promise<void> {
  const result = await runCli(['convert', '-f', 'raw', '-O', 'raw', `s3://bucket/${key}`, path], { env: s3Env(store) });
  if (result.code !== 0) throw new Error(`download of ${key} failed: ${result.stderr}`);
}

function uploadParts(store: S3Store, key: string): number[] {
  return store.requests.filter((r) => r.method === 'PUT' && r.path === `/bucket/${key}` && r.query.has('partNumber')).map((r) => Number(r.query.get('partNumber')));
}

/** Runs `body` with a fresh store and the striped disk written to `disk.raw` in a temp dir. */
async function withStoreAndDisk(body: (store: S3Store, dir: string, raw: string, env: Record<string, string>) => Promise<void>): Promise<void> {
  const store = await startS3();
  try {
    await withTempDir(async (dir) => {
      const raw = join(dir, 'disk.raw');
      await writeFile(raw, stripedDisk());
      await body(store, dir, raw, s3Env(store));
    });
  } finally {
    await store.close();
  }
}

qemuTest('raw to qcow2 on S3, plain and compressed, from a file and from a pipe: head last, clean, identical, nothing spooled', async (t) => {
  await withStoreAndDisk(async (store, dir, raw, env) => {
      // --tmpdir that does not exist and no spool memory: any spooling would fail the run.
    const noSpool = ['--spool-memory', '0', '--tmpdir', join(dir, 'no-such-dir'), '--part-size', '5M'];
    const runs: Array<[string, string]> = [
      ['plain-file.qcow2', `$QCOW2_STREAM convert -O qcow2 ${noSpool.join(' ')} '${raw}' s3://bucket/plain-file.qcow2`],
      ['compressed-file.qcow2', `$QCOW2_STREAM convert -c -O qcow2 ${noSpool.join(' ')} '${raw}' s3://bucket/compressed-file.qcow2`],
      ['compressed-pipe.qcow2', `cat '${raw}' | $QCOW2_STREAM convert -c -O qcow2 ${noSpool.join(' ')} - s3://bucket/compressed-pipe.qcow2`],
      ['plain-pipe.qcow2', `cat '${raw}' | $QCOW2_STREAM convert -f raw -O qcow2 ${noSpool.join(' ')} - s3://bucket/plain-pipe.qcow2`],
    ];
    for (const [key, shell] of runs) {
      const result = await runCli([], { shell, env });
      t.is(result.code, 0, `${key}: ${result.stderr}`);
      const parts = uploadParts(store, key);
      t.true(parts.length >= 3, `${key}: ${parts.join(',')}`);
      t.is(parts.at(-1), 1, `${key}: the head goes up last, as part 1 (${parts.join(',')})`);
      const local = join(dir, key);
      await download(store, key, local);
      const check = await qemuCheck(local);
      t.is(check.corruptions + check.leaks + check.checkErrors, 0, `${key}: ${check.raw}`);
      t.is(check.code, 0, key);
      t.true((await qemuCompare(raw, local)).identical, key);
    }
    t.deepEqual(store.openUploads(), []);
  });
});

qemuTest('an image that fits one part goes up in one PutObject, the same bytes a pipe gets', async (t) => {
  const store = await startS3();
  try {
    await withTempDir(async (dir) => {
      const raw = await makeExt4(dir, 8);
      const result = await runCli(['convert', '-c', '-O', 'qcow2', raw, 's3://bucket/small.qcow2'], { env: s3Env(store) });
      t.is(result.code, 0, result.stderr);
      t.deepEqual(uploadParts(store, 'small.qcow2'), []);
      t.true(store.requests.some((r) => r.method === 'PUT' && r.path === '/bucket/small.qcow2' && !r.query.has('partNumber')));
      const piped = await runCli([], { shell: `cat '${raw}' | $QCOW2_STREAM convert -c -O qcow2 - -` });
      await download(store, 'small.qcow2', join(dir, 'small.qcow2'));
      t.true((await readFile(join(dir, 'small.qcow2'))).equals(piped.stdout));
    });
  } finally {
    await store.close();
  }
});

qemuTest('qcow2 on S3 back to raw, and raw up to S3 in parts, in order', async (t) => {
  await withStoreAndDisk(async (store, dir, raw, env) => {
      t.is((await runCli(['convert', '-c', '-O', 'qcow2', raw, 's3://bucket/disk.qcow2'], { env })).code, 0);
    const back = await runCli(['convert', '-O', 'raw', 's3://bucket/disk.qcow2', join(dir, 'back.raw')], { env });
    t.is(back.code, 0, back.stderr);
    t.true((await readFile(join(dir, 'back.raw'))).equals(await readFile(raw)));
    const up = await runCli(['convert', '--part-size', '5M', '-O', 'raw', 's3://bucket/disk.qcow2', 's3://bucket/disk.raw'], { env });
    t.is(up.code, 0, up.stderr);
    t.deepEqual(uploadParts(store, 'disk.raw'), [1, 2, 3, 4, 5, 6, 7, 8]);
    await download(store, 'disk.raw', join(dir, 'disk-from-s3.raw'));
    t.true((await readFile(join(dir, 'disk-from-s3.raw'))).equals(await readFile(raw)));
  });
});

qemuTest('a part that fails mid-upload: one line naming the object, the upload aborted, no object left', async (t) => {
  await withStoreAndDisk(async (store, dir, raw, env) => {
      store.failPart(3);
    const result = await runCli(['convert', '--part-size', '5M', '-O', 'qcow2', raw, 's3://bucket/broken.qcow2'], { env });
    t.is(result.code, 1);
    t.true(isOneLineError(result.stderr), result.stderr);
    t.regex(result.stderr, /cannot write 's3:\/\/bucket\/broken\.qcow2': InternalError: part 3 fails on purpose \(HTTP 500\)/);
    t.true(store.requests.some((r) => r.method === 'DELETE' && r.path === '/bucket/broken.qcow2' && r.query.has('uploadId')), 'no AbortMultipartUpload was sent');
    t.deepEqual(store.openUploads(), [], JSON.stringify(store.requests.map((r) => [r.method, r.path, r.query.toString(), r.status])));
    const read = await runCli(['convert', '-O', 'raw', 's3://bucket/broken.qcow2', join(dir, 'x.raw')], { env });
    t.is(read.code, 1);
    t.true(isOneLineError(read.stderr), read.stderr);
    t.regex(read.stderr, /cannot read 's3:\/\/bucket\/broken\.qcow2': NoSuchKey/);
  });
});
