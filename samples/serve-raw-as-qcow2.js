#!/usr/bin/env node
// An HTTP server that serves every raw image in a directory as qcow2, converted on the fly:
// GET /NAME.qcow2 streams the qcow2 image of DIR/NAME.raw, with its exact Content-Length
// (the file is scanned first, so the layout is planned before the first byte).
// Usage: node samples/serve-raw-as-qcow2.js DIR [PORT]   (PORT 0 picks a free one)
import { createServer } from 'node:http';
import { basename, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { rawToQcow2 } from '../build/src/index.js';

const [dir, port = '8080'] = process.argv.slice(2);
if (!dir) {
  console.error('usage: serve-raw-as-qcow2.js DIR [PORT]');
  process.exit(2);
}

const server = createServer(async (req, res) => {
  const match = /^\/([\w.-]+)\.qcow2$/.exec(req.url ?? '');
  if (req.method !== 'GET' || !match) return void res.writeHead(404).end('not found\n');
  const raw = join(dir, `${basename(match[1])}.raw`);
  const image = rawToQcow2(raw, {
    onPlan: (plan) => res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': plan.totalLength }),
  });
  // The first chunk comes after the plan: an error before it (no such file) can still be a status.
  let first;
  try {
    first = await image.next();
  } catch (error) {
    return void res.writeHead(error.code === 'ERR_QCOW2_IO' ? 404 : 500).end(`${error.message}\n`);
  }
  const rest = async function* () {
    if (!first.done) yield first.value;
    yield* image;
  };
  // A failure after the headers cannot keep the promised length: the connection is cut.
  await pipeline(Readable.from(rest(), { objectMode: false }), res).catch(() => res.destroy());
});
server.listen(Number(port), '127.0.0.1', () => console.log(`serving ${dir}/*.raw as http://127.0.0.1:${server.address().port}/NAME.qcow2`));
