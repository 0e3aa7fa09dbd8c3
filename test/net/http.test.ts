/**
 * HTTP(S) sources and sinks against a real server on loopback: what arrives is checked with
 * qemu-img; failures end in one line naming the URL and the status, within the timeout.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { isOneLineError, runCli } from '../helpers/cli.js';
import { join, randomBytes, withTempDir } from '../helpers/files.js';
import { makeExt4 } from '../helpers/inputs.js';
import { qemuCheck, qemuCompare, qemuImg, qemuTest } from '../helpers/qemu.js';
import { startImageServer } from '../helpers/servers.js';

const run = promisify(execFile);

qemuTest('a qcow2 image from a URL converts to raw as qemu-img reads it; redirects are followed', async (t) => {
  await withTempDir(async (dir) => {
    const raw = await makeExt4(dir, 8);
    const qcow2 = join(dir, 'disk.qcow2');
    await qemuImg('convert', '-c', '-O', 'qcow2', raw, qcow2);
    const server = await startImageServer({ 'disk.qcow2': await readFile(qcow2) });
    try {
      for (const path of ['disk.qcow2', 'redirect/disk.qcow2']) {
        const out = join(dir, `out-${path.replace('/', '-')}.raw`);
        const result = await runCli(['convert', '-O', 'raw', `${server.url}/${path}`, out]);
        t.is(result.code, 0, result.stderr);
        t.true((await readFile(out)).equals(await readFile(raw)), path);
      }
    } finally {
      await server.close();
    }
  });
});

qemuTest('PUT of a qcow2 carries the exact Content-Length; a raw PUT too; qemu-img finds what arrived clean', async (t) => {
  await withTempDir(async (dir) => {
    const raw = await makeExt4(dir, 8);
    const server = await startImageServer({});
    try {
      // From a pipe the layout is planned when the input ends, still before the first byte.
      const piped = await runCli([], { shell: `cat '${raw}' | $QCOW2_STREAM convert -c -O qcow2 - ${server.url}/up/disk.qcow2` });
      t.is(piped.code, 0, piped.stderr);
      const fromFile = await runCli(['convert', '-O', 'qcow2', raw, `${server.url}/up/file.qcow2`]);
      t.is(fromFile.code, 0, fromFile.stderr);
      for (const name of ['disk.qcow2', 'file.qcow2']) {
        const upload = server.uploads.get(name)!;
        t.truthy(upload, name);
        t.is(upload.headers['content-length'], String(upload.body.length), `${name}: Content-Length`);
        t.is(upload.headers['transfer-encoding'], undefined);
        const path = join(dir, name);
        await writeFile(path, upload.body);
        const check = await qemuCheck(path);
        t.is(check.corruptions + check.leaks + check.checkErrors, 0, check.raw);
        t.true((await qemuCompare(raw, path)).identical, name);
      }
      // qcow2 back to raw, uploaded: the virtual size is known up front.
      const back = await runCli(['convert', '-O', 'raw', join(dir, 'file.qcow2'), `${server.url}/up/disk.raw`]);
      t.is(back.code, 0, back.stderr);
      const upload = server.uploads.get('disk.raw')!;
      t.is(upload.headers['content-length'], String(upload.body.length));
      t.true(upload.body.equals(await readFile(raw)));
      // A raw pipe of unknown length to raw: chunked.
      const chunked = await runCli([], { shell: `cat '${raw}' | $QCOW2_STREAM convert -f raw -O raw - ${server.url}/up/chunked.raw` });
      t.is(chunked.code, 0, chunked.stderr);
      t.is(server.uploads.get('chunked.raw')!.headers['transfer-encoding'], 'chunked');
      t.true(server.uploads.get('chunked.raw')!.body.equals(await readFile(raw)));
    } finally {
      await server.close();
    }
  });
});

qemuTest('HTTPS both ways with a certificate the caller trusts; an untrusted one is refused in one line', async (t) => {
  await withTempDir(async (dir) => {
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert]);
    const raw = await makeExt4(dir, 8);
    const qcow2 = join(dir, 'disk.qcow2');
    await qemuImg('convert', '-c', '-O', 'qcow2', raw, qcow2);
    const server = await startImageServer({ 'disk.qcow2': await readFile(qcow2) }, { key: await readFile(key, 'utf8'), cert: await readFile(cert, 'utf8') });
    const trusted = { NODE_EXTRA_CA_CERTS: cert };
    try {
      const out = join(dir, 'out.raw');
      const got = await runCli(['convert', '-O', 'raw', `${server.url}/disk.qcow2`, out], { env: trusted });
      t.is(got.code, 0, got.stderr);
      t.true((await readFile(out)).equals(await readFile(raw)));
      const put = await runCli(['convert', '-O', 'qcow2', raw, `${server.url}/up/disk.qcow2`], { env: trusted });
      t.is(put.code, 0, put.stderr);
      const arrived = join(dir, 'arrived.qcow2');
      await writeFile(arrived, server.uploads.get('disk.qcow2')!.body);
      const check = await qemuCheck(arrived);
      t.is(check.code, 0, check.raw);
      t.true((await qemuCompare(raw, arrived)).identical);
      const untrusted = await runCli(['convert', '-O', 'raw', `${server.url}/disk.qcow2`, join(dir, 'no.raw')]);
      t.is(untrusted.code, 1);
      t.true(isOneLineError(untrusted.stderr), untrusted.stderr);
      t.regex(untrusted.stderr, /127\.0\.0\.1/);
      t.false((await readdir(dir)).includes('no.raw'));
    } finally {
      await server.close();
    }
  });
});

test('HTTP failures: one line naming the URL and what went wrong, no output file, within the timeout', async (t) => {
  await withTempDir(async (dir) => {
    const image = randomBytes(1 << 20, 5);
    const server = await startImageServer({ 'disk.raw': image });
    try {
      const cases: Array<[string, string[], RegExp]> = [
        ['404', ['convert', '-f', 'raw', '-O', 'qcow2', `${server.url}/missing.raw`, 'out.qcow2'], /cannot read 'http:\/\/127\.0\.0\.1:\d+\/missing\.raw': HTTP 404 Not Found/],
        ['403 on PUT', ['convert', '-f', 'raw', '-O', 'qcow2', `${server.url}/disk.raw`, `${server.url}/forbidden/x.qcow2`], /cannot write 'http:\/\/[^']+\/forbidden\/x\.qcow2': HTTP 403 Forbidden: no uploads here/],
        ['a server that stops sending', ['convert', '--timeout', '1', '-f', 'raw', '-O', 'qcow2', `${server.url}/stall/disk.raw`, 'out.qcow2'], /no data for 1 s after 524288 bytes \(--timeout\)/],
        ['a connection cut short', ['convert', '-f', 'raw', '-O', 'qcow2', `${server.url}/cut/disk.raw`, 'out.qcow2'], /the connection closed after \d+ of 1048576 bytes/],
        ['nobody listening', ['convert', '-f', 'raw', '-O', 'qcow2', 'http://127.0.0.1:9/x.raw', 'out.qcow2'], /cannot read 'http:\/\/127\.0\.0\.1:9\/x\.raw': connection refused/],
      ];
      for (const [name, args, expected] of cases) {
        const started = Date.now();
        const result = await runCli(args, { cwd: dir });
        t.is(result.code, 1, name);
        t.true(isOneLineError(result.stderr), `${name}: ${result.stderr}`);
        t.regex(result.stderr, expected, name);
        t.true(Date.now() - started < 15_000, `${name} took too long`);
        t.deepEqual(await readdir(dir), [], `${name} left files`);
      }
    } finally {
      await server.close();
    }
  });
});
