import test from 'ava';
import { readdir } from 'node:fs/promises';
import { LimitError } from '../../src/errors.js';
import { MemorySpool } from '../../src/stages/spool.js';
import { TempFileKeyedStore } from '../../src/node/temp-file-keyed-store.js';
import { memoryFileDir } from '../../src/node/memory-file.js';
import { TempFileSpool } from '../../src/node/temp-file-spool.js';
import { BufferPool, release } from '../../src/stages/buffer-pool.js';
import { allUnlinked, collect, openFilesUnder, randomBytes, withTempDir } from '../helpers/files.js';

test('the temp-file spool gives back every byte in order across memory and disk, and leaves no file', async (t) => {
  await withTempDir(async (dir) => {
    const spool = new TempFileSpool({ memoryLimit: 100_000, tempDir: dir });
    const chunks = Array.from({ length: 40 }, (_, i) => randomBytes(1 + ((i * 7919) % 30_000), i + 1));
    for (const chunk of chunks) await spool.write(chunk);
    t.true(spool.spilled);
    // The file is unlinked as soon as it exists: open, but under no name, even now.
    const inUse = await openFilesUnder(dir);
    t.is(inUse.length, 1, inUse.join(', '));
    t.true(allUnlinked(inUse), `the spool file has a name: ${inUse.join(', ')}`);
    t.deepEqual(await readdir(dir), []);
    const back = await collect(spool.read());
    t.true(back.equals(Buffer.concat(chunks)));
    await spool.close();
    await spool.close();
    t.deepEqual(await openFilesUnder(dir), [], 'close() left the spool file open');
  });
});

test('the temp-file keyed store spills to one unlinked file and closes it', async (t) => {
  await withTempDir(async (dir) => {
    const store = new TempFileKeyedStore({ memoryLimit: 100_000, tempDir: dir });
    const items = Array.from({ length: 20 }, (_, i) => randomBytes(10_000 + i, i + 1));
    for (const [i, bytes] of items.entries()) await store.put(`k${i}`, bytes);
    const inUse = await openFilesUnder(dir);
    t.is(inUse.length, 1, inUse.join(', '));
    t.true(allUnlinked(inUse), `the store's file has a name: ${inUse.join(', ')}`);
    for (const [i, bytes] of items.entries()) t.true(Buffer.from((await store.take(`k${i}`)) ?? []).equals(bytes), `item ${i}`);
    await store.close();
    await store.close();
    t.deepEqual(await openFilesUnder(dir), [], 'close() left the store file open');
  });
});

test('spools and stores keep what they were given even if the caller reuses its buffer (a Node Buffer too)', async (t) => {
  await withTempDir(async (dir) => {
    for (const make of [(n: number) => new Uint8Array(n), (n: number) => Buffer.alloc(n)]) {
      for (const memoryLimit of [1 << 20, 100]) {
        const spool = new TempFileSpool({ memoryLimit, tempDir: dir });
        const store = new TempFileKeyedStore({ memoryLimit, tempDir: dir });
        const buffer = make(1000).fill(1);
        await spool.write(buffer.subarray(0, 500));
        await store.put('k', buffer.subarray(0, 500));
        buffer.fill(2);
        const back = await collect(spool.read());
        t.is(back.length, 500);
        t.true(back.every((b) => b === 1), `spool, ${buffer.constructor.name}, memory ${memoryLimit}`);
        t.true((await store.get('k'))!.every((b) => b === 1), `store, ${buffer.constructor.name}, memory ${memoryLimit}`);
        await spool.close();
        await store.close();
      }
    }
  });
});

test('spool limits: memory for the memory spool, disk for the temp-file spool', async (t) => {
  const memory = new MemorySpool(1000);
  await memory.write(new Uint8Array(1000));
  await t.throwsAsync(memory.write(new Uint8Array(1)), { instanceOf: LimitError });
  await withTempDir(async (dir) => {
    const disk = new TempFileSpool({ memoryLimit: 10, diskLimit: 100, tempDir: dir });
    await disk.write(new Uint8Array(10));
    await disk.write(new Uint8Array(100));
    await t.throwsAsync(disk.write(new Uint8Array(1)), { instanceOf: LimitError });
    await disk.close();
  });
});

// Serial (ava runs those before the rest), so that no other test's spool is open on /dev/shm meanwhile.
test.serial('the memory part lives in an unlinked file on /dev/shm where that is a tmpfs, the rest in the temp directory', async (t) => {
  if (!(await memoryFileDir(1 << 20))) return t.pass('no writable tmpfs at /dev/shm here: the memory part stays in slabs');
  await withTempDir(async (dir) => {
    const spool = new TempFileSpool({ memoryLimit: 1 << 20, tempDir: dir });
    t.teardown(() => spool.close());
    const bytes = randomBytes(3 << 20, 7);
    await spool.write(bytes.subarray(0, 512 << 10));
    const inShm = await openFilesUnder('/dev/shm');
    t.is(inShm.length, 1, 'the memory part is a file on /dev/shm');
    t.true(allUnlinked(inShm), `it has a name: ${inShm.join(', ')}`);
    t.false(spool.spilled);
    t.deepEqual(await openFilesUnder(dir), []);
    await spool.write(bytes.subarray(512 << 10));
    t.true(spool.spilled, 'past the memory limit, the temp directory');
    t.true((await collect(spool.read())).equals(bytes));
    await spool.close();
    t.deepEqual(await openFilesUnder('/dev/shm'), [], 'close() left the memory file open');
  });
});

test('spooled pool buffers are taken by reference and every one comes back, whichever part held them', async (t) => {
  await withTempDir(async (dir) => {
    for (const memoryLimit of [0, 300_000, 1 << 30]) {
      const pool = new BufferPool();
      const spool = new TempFileSpool({ memoryLimit, tempDir: dir, pool });
      const bytes = randomBytes(5 << 20, memoryLimit + 1);
      for (let at = 0; at < bytes.length; at += 100_000) {
        const chunk = pool.take(Math.min(100_000, bytes.length - at));
        chunk.set(bytes.subarray(at, at + chunk.length));
        await spool.write(chunk);
        release(chunk); // the caller's reference; the spool holds its own where it kept the view
      }
      const back: Uint8Array[] = [];
      for await (const chunk of spool.read()) {
        back.push(Buffer.from(chunk));
        release(chunk);
      }
      await spool.close();
      t.true(Buffer.concat(back).equals(bytes), `memory limit ${memoryLimit}`);
      t.is(pool.outstanding, 0, `memory limit ${memoryLimit}: a buffer was not given back`);
    }
  });
});
