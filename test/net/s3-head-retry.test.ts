/**
 * The head of a head-last S3 upload (part 1, sent last) survives a failed attempt: the SDK
 * retries it, which it can only do with a body it can send again.
 */
import { createServer, request } from 'node:http';
import { writeFile } from 'node:fs/promises';
import { runCli } from '../helpers/cli.js';
import { join, randomBytes, withTempDir } from '../helpers/files.js';
import { qemuCompare, qemuTest } from '../helpers/qemu.js';
import { closeServer, listen, s3Env, startS3 } from '../helpers/servers.js';

/** Forwards to `target`, but answers the first UploadPart of part 1 with a 500 itself. */
async function failFirstHeadPart(target: string): Promise<{ endpoint: string; headAttempts: () => number; close: () => Promise<void> }> {
  const backend = new URL(target);
  let attempts = 0;
  const server = createServer((req, res) => {
    const query = new URL(req.url ?? '/', 'http://store').searchParams;
    if (req.method === 'PUT' && query.has('uploadId') && query.get('partNumber') === '1' && attempts++ === 0) {
      req.resume();
      req.on('end', () => res.writeHead(500, { 'content-type': 'application/xml' }).end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>try again</Message></Error>'));
      return;
    }
    const forwarded = request({ host: backend.hostname, port: backend.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forwarded.on('error', () => res.writeHead(502).end());
    req.pipe(forwarded);
  });
  const port = await listen(server);
  return { endpoint: `http://127.0.0.1:${port}`, headAttempts: () => attempts, close: () => closeServer(server) };
}

qemuTest('a head part that fails once is sent again, and the image arrives whole', async (t) => {
  const store = await startS3();
  const flaky = await failFirstHeadPart(store.endpoint);
  try {
    await withTempDir(async (dir) => {
      const raw = join(dir, 'disk.raw');
      await writeFile(raw, randomBytes(12 << 20, 9)); // three 5 MiB data parts at most, then the head
      const env = { ...s3Env(store), AWS_ENDPOINT_URL: flaky.endpoint };
      const upload = await runCli(['convert', '-O', 'qcow2', '--part-size', '5M', raw, 's3://bucket/retry.qcow2'], { env });
      t.is(upload.code, 0, upload.stderr);
      t.is(upload.stderr, '');
      t.is(flaky.headAttempts(), 2);
      const local = join(dir, 'retry.qcow2');
      const download = await runCli(['convert', '-f', 'qcow2', '-O', 'qcow2', 's3://bucket/retry.qcow2', local], { env: s3Env(store) });
      t.is(download.code, 0, download.stderr);
      t.true((await qemuCompare(raw, local)).identical);
    });
  } finally {
    await flaky.close();
    await store.close();
  }
});
