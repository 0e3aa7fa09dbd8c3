/**
 * Properties of the writer, for random sparse inputs and random options: raw -> qcow2 -> raw
 * is the identity (through our reader and through qemu-img), qemu-img check is clean, and the
 * two-pass and spooled paths give the same bytes, compressed or not.
 */
import fc from 'fast-check';
import { readFile, writeFile } from 'node:fs/promises';
import { toQcow2, toRawClusters } from '../src/node/convert.js';
import { writeFileAtomically } from '../src/node/file-sink.js';
import { qcow2Clusters } from '../src/node/qcow2-source.js';
import { rawClusters } from '../src/node/raw-source.js';
import { writeRaw } from '../src/stages/raw-writer.js';
import { collect, join, withTempDir } from './helpers/files.js';
import { qemuCheck, qemuCompare, qemuTest } from './helpers/qemu.js';

const CLUSTER_SIZES = [512, 1024, 4096, 16384, 65536, 2097152];

const scenario = fc
  .record({
    clusterSize: fc.constantFrom(...CLUSTER_SIZES),
    compat: fc.constantFrom('0.10' as const, '1.1' as const),
    refcountBits: fc.constantFrom(1, 2, 4, 8, 16, 32, 64),
    compress: fc.boolean(),
    sectors: fc.integer({ min: 0, max: 4 * 4096 }),
    writes: fc.array(
      fc.record({ sector: fc.nat(), length: fc.integer({ min: 1, max: 9000 }), fill: fc.oneof(fc.constant('random' as const), fc.integer({ min: 0, max: 255 })), seed: fc.nat() }),
      { maxLength: 12 },
    ),
  })
  .map((s) => ({ ...s, refcountBits: s.compat === '0.10' ? 16 : s.refcountBits }));

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

function build(s: Scenario): Uint8Array {
  const bytes = new Uint8Array(s.sectors * 512 + (s.sectors % 7));
  for (const w of s.writes) {
    if (bytes.length === 0) break;
    const at = (w.sector * 512) % bytes.length;
    const end = Math.min(bytes.length, at + w.length);
    if (w.fill === 'random') {
      let x = w.seed | 1;
      for (let i = at; i < end; i++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        bytes[i] = x & 0xff;
      }
    } else bytes.fill(w.fill, at, end);
  }
  return bytes;
}

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

qemuTest('raw -> qcow2 -> raw is the identity and qemu-img check is clean, whatever the options and path', async (t) => {
  await withTempDir(async (dir) => {
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const bytes = build(s);
        const raw = join(dir, `in-${runs}.raw`);
        const out = join(dir, `out-${runs}.qcow2`);
        runs++;
        await writeFile(raw, bytes);
        const options = { clusterSize: s.clusterSize, compat: s.compat, refcountBits: s.refcountBits, compress: s.compress, tempDir: dir, memoryLimit: 65536 };
        await writeFileAtomically(out, toQcow2(rawClusters(raw, { clusterSize: s.clusterSize }), options));
        const piped = await collect(toQcow2(rawClusters(once(bytes), { clusterSize: s.clusterSize }), options));
        const written = await readFile(out);
        if (!piped.equals(written)) throw new Error('the two-pass and spooled paths differ');
        const check = await qemuCheck(out);
        if (check.code !== 0 || check.corruptions + check.leaks + check.checkErrors > 0) throw new Error(`qemu-img check: ${check.raw}`);
        if (!(await qemuCompare(raw, out)).identical) throw new Error('qemu-img compare: differs');
        const back = await collect(writeRaw()(toRawClusters(qcow2Clusters(out, { randomAccess: false }))));
        const expected = Buffer.alloc(Math.ceil(bytes.length / 512) * 512);
        expected.set(bytes);
        if (!back.equals(expected)) throw new Error('our reader does not give the input back');
      }),
      { numRuns: Number(process.env.QCOW2_STREAM_PROPERTY_RUNS ?? 60), seed: 424242 },
    );
    t.pass(`${runs} scenarios`);
  });
});
