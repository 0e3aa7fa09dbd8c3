import test from 'ava';
import { createReadStream, createWriteStream } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type { Qcow2Layout } from '../../src/format/layout.js';
import { stageToDuplex } from '../../src/node/stage-stream.js';
import { createQcow2ReaderStream, createRawToQcow2Stream, createRawWriterStream } from '../../src/node/streams.js';
import { join, randomBytes, withTempDir } from '../helpers/files.js';
import { qemuCheck, qemuCompare, qemuImg, qemuTest } from '../helpers/qemu.js';

qemuTest('the Node stream face converts through stream.pipeline and announces the length first', async (t) => {
  await withTempDir(async (dir) => {
    const raw = join(dir, 'in.raw');
    const bytes = randomBytes(3 << 20, 12);
    bytes.fill(0, 1 << 20, 2 << 20);
    await writeFile(raw, bytes);
    const out = join(dir, 'out.qcow2');
    const converter = createRawToQcow2Stream({ tempDir: dir, memoryLimit: 1 << 20 });
    let plan: Qcow2Layout | undefined;
    let bytesBeforePlan = 0;
    let seen = 0;
    // Typed: under strict TypeScript the listener's argument is a Qcow2Layout, no cast.
    converter.on('plan', (layout) => {
      plan = layout;
      bytesBeforePlan = seen;
    });
    converter.on('data', (chunk: unknown) => {
      seen += (chunk as Uint8Array).length;
    });
    await pipeline(createReadStream(raw), converter, createWriteStream(out));
    t.is(bytesBeforePlan, 0);
    t.is((await stat(out)).size, plan?.totalLength ?? -1);
    t.is((await qemuCheck(out)).code, 0);
    t.true((await qemuCompare(raw, out)).identical);
  });
});

qemuTest('the reader and raw writer faces turn a qcow2 stream back into raw through stream.pipeline', async (t) => {
  await withTempDir(async (dir) => {
    const raw = join(dir, 'in.raw');
    const bytes = randomBytes(2 << 20, 13);
    bytes.fill(0, 65536, 3 * 65536);
    await writeFile(raw, bytes);
    const image = join(dir, 'in.qcow2');
    await qemuImg('convert', '-c', '-f', 'raw', '-O', 'qcow2', raw, image);
    const out = join(dir, 'out.raw');
    await pipeline(createReadStream(image), createQcow2ReaderStream({ tempDir: dir }), createRawWriterStream(), createWriteStream(out));
    t.true((await readFile(out)).equals(bytes));
  });
});

test('backpressure: a stage face takes input only as fast as its output is read', async (t) => {
  let pulled = 0;
  const duplex = stageToDuplex<Uint8Array, Uint8Array>(async function* (source) {
    for await (const chunk of source) {
      pulled++;
      yield chunk;
    }
  });
  let accepted = 0;
  for (let i = 0; i < 200; i++) if (duplex.write(new Uint8Array(64 * 1024))) accepted++;
  await new Promise((r) => setTimeout(r, 100));
  // 200 chunks of 64 KiB were offered; with nobody reading, only about the buffers' worth may pass.
  t.true(pulled < 40, `the stage pulled ${pulled} chunks with nobody reading`);
  t.true(accepted < 200, 'write() never signalled backpressure');
  duplex.end(undefined);
  let read = 0;
  for await (const chunk of duplex) read += (chunk as Uint8Array).length;
  t.is(read, 200 * 64 * 1024);
  t.is(pulled, 200);
});

test('destroying a stage face mid-stream ends the stage', async (t) => {
  let finished = false;
  const duplex = stageToDuplex<Uint8Array, Uint8Array>(async function* (source) {
    try {
      for await (const chunk of source) yield chunk;
    } finally {
      finished = true;
    }
  });
  duplex.write(new Uint8Array(10));
  await new Promise((r) => setTimeout(r, 20));
  const errors: Error[] = [];
  duplex.on('error', (error: unknown) => errors.push(error as Error));
  const closed = new Promise<void>((resolve) => duplex.on('close', () => resolve()));
  duplex.destroy(new Error('stop'));
  await closed;
  t.is(errors[0]?.message, 'stop');
  t.true(finished);
});
