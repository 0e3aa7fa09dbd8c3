/**
 * The streaming reader's waiting: images whose tables precede their data wait for nothing;
 * images scribbled in any order wait in the store, which spills to an unlinked temp file.
 */
import { createReadStream } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { FormatError } from '../../src/errors.js';
import { toRawClusters } from '../../src/node/convert.js';
import { writeFileAtomically } from '../../src/node/file-sink.js';
import { qcow2Clusters } from '../../src/node/qcow2-source.js';
import { rawToQcow2 } from '../../src/node/raw-to-qcow2.js';
import { TempFileKeyedStore } from '../../src/node/temp-file-keyed-store.js';
import { MemoryKeyedStore, type KeyedStore } from '../../src/stages/keyed-store.js';
import { readQcow2 } from '../../src/stages/qcow2-reader.js';
import { writeRaw } from '../../src/stages/raw-writer.js';
import { qemuImg, run } from '../helpers/corpus.js';
import { allUnlinked, collect, join, openFilesUnder, randomBytes, withTempDir } from '../helpers/files.js';
import { qemuTest } from '../helpers/qemu.js';

/** A store that remembers the most it ever held. */
class WatchedStore extends MemoryKeyedStore {
  peak = 0;
  override async put(key: string, bytes: Uint8Array): Promise<void> {
    await super.put(key, bytes);
    this.peak = Math.max(this.peak, this.size);
  }
}

function watched(): { stores: WatchedStore[]; factory: () => KeyedStore } {
  const stores: WatchedStore[] = [];
  return { stores, factory: () => (stores.push(new WatchedStore()), stores.at(-1)!) };
}

async function streamed(path: string, store: () => KeyedStore): Promise<Buffer> {
  return collect(writeRaw()(toRawClusters(readQcow2({ store })(createReadStream(path, { highWaterMark: 65536 })))));
}

qemuTest('our images and qemu-img convert output: nothing waits', async (t) => {
  await withTempDir(async (dir) => {
    const raw = join(dir, 'in.raw');
    const bytes = randomBytes(6 << 20, 21);
    bytes.fill(0, 1 << 20, 2 << 20);
    await writeFile(raw, bytes);
    const ours = join(dir, 'ours.qcow2');
    await writeFileAtomically(ours, rawToQcow2(raw, { clusterSize: 4096 }));
    const theirs = join(dir, 'theirs.qcow2');
    await qemuImg('convert', '-q', '-f', 'raw', '-O', 'qcow2', '-o', 'cluster_size=4k', raw, theirs);
    for (const image of [ours, theirs]) {
      const { stores, factory } = watched();
      const back = await streamed(image, factory);
      t.true(back.equals(bytes));
      t.deepEqual(stores.map((s) => s.peak), [0, 0], `${image}: bytes waited`);
    }
  });
});

qemuTest('qemu-img convert -c output, L2 tables amid packed streams: only the clusters streams share wait', async (t) => {
  await withTempDir(async (dir) => {
    const raw = join(dir, 'in.raw');
    const text = new TextEncoder().encode('compressible text, the same few words over and over, for deflate. ');
    const bytes = new Uint8Array(8 << 20);
    for (let at = 0; at < bytes.length; at += text.length) bytes.set(text.subarray(0, Math.min(text.length, bytes.length - at)), at);
    for (let at = 0; at < bytes.length; at += 4096) bytes[at] = (at / 4096) % 251; // no two clusters alike
    await writeFile(raw, bytes);
    const image = join(dir, 'in.qcow2');
    await qemuImg('convert', '-q', '-c', '-f', 'raw', '-O', 'qcow2', '-o', 'cluster_size=4k', raw, image);
    const { stores, factory } = watched();
    t.true((await streamed(image, factory)).equals(bytes));
    // 4 L2 tables, each allocated amid the packed streams: a handful of shared clusters wait, not the image.
    t.true(stores[0]!.peak <= 8 * 4096, `unknown clusters peaked at ${stores[0]!.peak} bytes`);
  });
});

/** An image written in random order whose L1 table then moved past everything it maps. */
async function scribbled(dir: string): Promise<string> {
  const image = join(dir, 'scribbled.qcow2');
  await qemuImg('create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4k', image, '64M');
  const writes: string[] = [];
  for (let i = 0; i < 200; i++) writes.push('-c', `write -P ${i % 250} ${((i * 7919) % 16000) * 4096} 4k`);
  await run('qemu-io', ['-f', 'qcow2', ...writes, image]);
  await qemuImg('resize', '-q', image, '128M'); // the L1 table moves past everything it maps
  return image;
}

/** Temp-file stores in `dir` that spill past 64 KiB; which were closed, and the files open in `dir` as the first close began. */
function spillingStores(dir: string): { stores: TempFileKeyedStore[]; closed: Set<TempFileKeyedStore>; openAtClose: string[]; factory: () => KeyedStore } {
  const stores: TempFileKeyedStore[] = [];
  const closed = new Set<TempFileKeyedStore>();
  const openAtClose: string[] = [];
  const factory = () => {
    const store = new TempFileKeyedStore({ memoryLimit: 64 * 1024, tempDir: dir });
    const close = store.close.bind(store);
    store.close = async () => {
      if (closed.size === 0) openAtClose.push(...(await openFilesUnder(dir)));
      closed.add(store);
      return close();
    };
    stores.push(store);
    return store;
  };
  return { stores, closed, openAtClose, factory };
}

qemuTest('an image written in random order waits in a temp file that nobody sees and nothing outlives', async (t) => {
  await withTempDir(async (dir) => {
    const image = await scribbled(dir);
    const spoolDir = join(dir, 'spool');
    await mkdir(spoolDir);
    const { stores, closed, factory } = spillingStores(spoolDir);
    let sawSpill = false;
    const records = readQcow2({ store: factory })(createReadStream(image, { highWaterMark: 65536 }));
    const parts: Uint8Array[] = [];
    for await (const chunk of writeRaw()(toRawClusters(records))) {
      parts.push(Buffer.from(chunk));
      const inUse = await openFilesUnder(spoolDir);
      if (stores.some((s) => s.size > 64 * 1024)) {
        sawSpill = true;
        t.true(inUse.length > 0 && allUnlinked(inUse), `the temp file must be open and unlinked while in use: ${inUse.join(', ')}`);
      }
    }
    t.true(sawSpill, 'the store never spilled to disk');
    const reference = join(dir, 'reference.raw');
    await qemuImg('convert', '-q', '-O', 'raw', image, reference);
    const expected = await collect(createReadStream(reference));
    t.true(Buffer.concat(parts).equals(expected));
    t.is(closed.size, stores.length, 'a store was not closed');
    t.deepEqual(await openFilesUnder(spoolDir), [], 'a store file is still open');
    // Random access reads the same bytes.
    t.true((await collect(writeRaw()(toRawClusters(qcow2Clusters(image))))).equals(expected));
  });
});

qemuTest('the stores are closed, their files with them, when the input fails and when the consumer stops early', async (t) => {
  await withTempDir(async (dir) => {
    const image = await scribbled(dir);
    const bytes = await readFile(image);
    const l1 = Number(bytes.readBigUInt64BE(40));
    const spoolDir = join(dir, 'spool');
    await mkdir(spoolDir);
    // Cut just before the L1 table: every cluster so far waited, unknown, in a store.
    const cut = join(dir, 'cut.qcow2');
    await writeFile(cut, bytes.subarray(0, l1));
    const failing = spillingStores(spoolDir);
    await t.throwsAsync(async () => {
      for await (const record of readQcow2({ store: failing.factory })(createReadStream(cut, { highWaterMark: 65536 }))) void record;
    }, { instanceOf: FormatError });
    t.true(failing.openAtClose.length > 0, 'the stores should have spilled to temp files before the input ended');
    t.is(failing.closed.size, failing.stores.length, 'on error: a store was not closed');
    t.deepEqual(await openFilesUnder(spoolDir), [], 'on error: a store file is still open');
    // Stop at the first data record: parked clusters are still waiting.
    const stopping = spillingStores(spoolDir);
    let inUse: string[] = [];
    for await (const record of readQcow2({ store: stopping.factory })(createReadStream(image, { highWaterMark: 65536 }))) {
      if (record.kind !== 'data') continue;
      inUse = await openFilesUnder(spoolDir);
      break;
    }
    t.true(inUse.length > 0, 'the stores should hold temp files when the consumer stops');
    t.is(stopping.closed.size, stopping.stores.length, 'on early stop: a store was not closed');
    t.deepEqual(await openFilesUnder(spoolDir), [], 'on early stop: a store file is still open');
  });
});
