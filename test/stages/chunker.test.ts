import test from 'ava';
import { InputError, OptionError } from '../../src/errors.js';
import { chunkRaw } from '../../src/stages/chunker.js';
import type { ClusterRecord } from '../../src/stages/clusters.js';
import { randomBytes, randomChunks } from '../helpers/files.js';

async function records(source: AsyncIterable<Uint8Array>, clusterSize: number, virtualSize?: number): Promise<ClusterRecord[]> {
  const out: ClusterRecord[] = [];
  for await (const r of chunkRaw({ clusterSize, ...(virtualSize !== undefined && { virtualSize }) })(source)) out.push(r);
  return out;
}

/** Expands records back into a raw image of the virtual size. */
function rebuild(list: ClusterRecord[], clusterSize: number): Uint8Array {
  const end = list.at(-1);
  if (end?.kind !== 'end') throw new Error('no end record');
  const image = new Uint8Array(Math.ceil(end.virtualSize / clusterSize) * clusterSize);
  for (const r of list) if (r.kind === 'data') image.set(r.bytes, r.index * clusterSize);
  return image.subarray(0, end.virtualSize);
}

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

test('records rebuild the input, however the input is cut into chunks', async (t) => {
  const input = randomBytes(300_000, 1);
  input.fill(0, 4096, 3 * 4096);
  input.fill(0, 100_000, 200_000);
  for (const clusterSize of [512, 4096, 65536]) {
    const whole = await records(once(input), clusterSize);
    for (let seed = 1; seed <= 5; seed++) {
      const cut = await records(randomChunks(input, seed, 9000), clusterSize);
      const rebuilt = rebuild(cut, clusterSize);
      t.true(Buffer.from(rebuilt.subarray(0, input.length)).equals(input));
      t.true(rebuilt.subarray(input.length).every((b) => b === 0));
      t.true(Buffer.from(rebuild(whole, clusterSize)).equals(rebuilt));
    }
  }
});

test('all-zero clusters are dropped and data records are whole, ascending clusters', async (t) => {
  const input = new Uint8Array(10 * 4096);
  input[5 * 4096 + 7] = 1;
  input[9 * 4096] = 2;
  const list = await records(once(input), 4096);
  t.deepEqual(list.map((r) => r.kind), ['begin', 'data', 'data', 'end']);
  const data = list.filter((r) => r.kind === 'data');
  t.deepEqual(data.map((r) => r.index), [5, 9]);
  t.true(data.every((r) => r.bytes.length === 4096));
});

test('virtual size: input length rounded up to 512, or the stated size', async (t) => {
  const end = async (length: number, stated?: number) => (await records(once(randomBytes(length, 3)), 65536, stated)).at(-1);
  t.deepEqual(await end(0), { kind: 'end', virtualSize: 0 });
  t.deepEqual(await end(1), { kind: 'end', virtualSize: 512 });
  t.deepEqual(await end(512), { kind: 'end', virtualSize: 512 });
  t.deepEqual(await end(513), { kind: 'end', virtualSize: 1024 });
  t.deepEqual(await end(513, 1 << 30), { kind: 'end', virtualSize: 1 << 30 });
  await t.throwsAsync(end(1025, 1024), { instanceOf: InputError, message: /longer than the stated size/ });
  await t.throwsAsync(end(10, 1000), { instanceOf: OptionError, message: /multiple of 512/ });
});

test('every cluster size from 512 B to 2 MiB, and no other', async (t) => {
  for (let bits = 9; bits <= 21; bits++) t.notThrows(() => chunkRaw({ clusterSize: 2 ** bits }));
  for (const bad of [256, 1000, 4 * 2 ** 20]) t.throws(() => chunkRaw({ clusterSize: bad }), { instanceOf: OptionError });
});
