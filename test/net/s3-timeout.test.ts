/**
 * --timeout reaches S3: a store that goes silent, on a GET half way through the body or on
 * a PUT before answering, ends the run within a few seconds (the SDK retries a timeout
 * before giving up) with one line naming the object.
 */
import test from 'ava';
import { createServer, type Server } from 'node:http';
import { writeFile } from 'node:fs/promises';
import { isOneLineError, runCli } from '../helpers/cli.js';
import { join, randomBytes, withTempDir } from '../helpers/files.js';
import { closeServer, listen } from '../helpers/servers.js';

/**
 * An S3 endpoint that stalls: a GET gets its headers and half its body, then nothing; any
 * other request has its body read and is never answered.
 */
async function startStallingStore(size: number): Promise<{ endpoint: string; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-length': size, 'content-type': 'application/octet-stream' });
      res.write(randomBytes(size >> 1, 3));
      return;
    }
    req.resume();
  });
  const port = await listen(server);
  return { endpoint: `http://127.0.0.1:${port}`, close: () => closeServer(server) };
}

const env = { AWS_ACCESS_KEY_ID: 'key', AWS_SECRET_ACCESS_KEY: 'secret', AWS_REGION: 'us-east-1', AWS_EC2_METADATA_DISABLED: 'true' };

test('a silent S3 store fails a GET and a PUT within a few seconds of --timeout, naming the object', async (t) => {
  const store = await startStallingStore(1 << 20);
  try {
    await withTempDir(async (dir) => {
      const raw = join(dir, 'disk.raw');
      await writeFile(raw, randomBytes(1 << 20, 4));
      const cases: Array<[string, string[], RegExp]> = [
        ['GET', ['convert', '--timeout', '1', '--endpoint', store.endpoint, '-f', 'raw', '-O', 'raw', 's3://bucket/in.raw', join(dir, 'out.raw')], /cannot read 's3:\/\/bucket\/in\.raw': .*--timeout/],
        ['PUT', ['convert', '--timeout', '1', '--endpoint', store.endpoint, '-f', 'raw', '-O', 'raw', raw, 's3://bucket/out.raw'], /cannot write 's3:\/\/bucket\/out\.raw': .*--timeout/],
        ['PUT of qcow2', ['convert', '--timeout', '1', '--endpoint', store.endpoint, '-O', 'qcow2', raw, 's3://bucket/out.qcow2'], /cannot write 's3:\/\/bucket\/out\.qcow2': .*--timeout/],
      ];
      for (const [name, args, expected] of cases) {
        const started = Date.now();
        const result = await runCli(args, { env });
        const took = Date.now() - started;
        t.is(result.code, 1, `${name}: ${result.stderr}`);
        t.true(isOneLineError(result.stderr), `${name}: ${result.stderr}`);
        t.regex(result.stderr, expected, name);
        t.true(took < 10_000, `${name} took ${took} ms`);
      }
    });
  } finally {
    await store.close();
  }
});
