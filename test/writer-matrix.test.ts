/**
 * The writer's matrix: every input crossed with cluster sizes 512 B to 2 MiB, both versions
 * and refcount widths 1, 16 and 64. Each image passes qemu-img check with no errors and no
 * leaks, compares identical to its source, is exactly as long as planned, and the seekable
 * two-pass path and the spooled stream path give the same bytes; and our reader, with random
 * access and forward-only, gives the input back. Every pooled buffer each case took is back in
 * its pool at the end.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import type { Qcow2Layout } from '../src/format/layout.js';
import { writeFileAtomically } from '../src/node/file-sink.js';
import { toRawClusters } from '../src/node/convert.js';
import { qcow2Clusters } from '../src/node/qcow2-source.js';
import { rawToQcow2 } from '../src/node/raw-to-qcow2.js';
import { TempFileSpool } from '../src/node/temp-file-spool.js';
import { BufferPool, sharedBufferPool } from '../src/stages/buffer-pool.js';
import { writeRaw } from '../src/stages/raw-writer.js';
import type { Compat } from '../src/stages/qcow2-writer.js';
import { collect, join, randomChunks, withTempDir } from './helpers/files.js';
import { edgeInputs, makeExt4, type NamedInput } from './helpers/inputs.js';
import { limiter } from './helpers/limit.js';
import { qemuCheck, qemuCompare, qemuTest } from './helpers/qemu.js';

const CLUSTER_SIZES = [512, 4096, 65536, 2097152];
const FORMATS: Array<{ compat: Compat; refcountBits: number }> = [
  { compat: '0.10', refcountBits: 16 },
  { compat: '1.1', refcountBits: 1 },
  { compat: '1.1', refcountBits: 16 },
  { compat: '1.1', refcountBits: 64 },
];
const slot = limiter(3);

/** Remembers whether it had spilled to disk when it was closed (close forgets). */
class WatchedSpool extends TempFileSpool {
  spilledBeforeClose = false;
  override async close(): Promise<void> {
    this.spilledBeforeClose ||= this.spilled;
    await super.close();
  }
}

/** Input bytes in clusters that hold anything but zeros. */
function dataBytes(bytes: Uint8Array, clusterSize: number): number {
  let total = 0;
  for (let at = 0; at < bytes.length; at += clusterSize) {
    const cluster = bytes.subarray(at, at + clusterSize);
    if (cluster.some((b) => b !== 0)) total += cluster.length;
  }
  return total;
}

async function checkCase(dir: string, input: NamedInput, rawPath: string, clusterSize: number, format: (typeof FORMATS)[number]) {
  const tag = `${input.slug}-${clusterSize}-${format.compat}-${format.refcountBits}`;
  const out = join(dir, `${tag}.qcow2`);
  // A pool of the case's own, to count what comes back.
  const pool = new BufferPool();
  const options = { clusterSize, compat: format.compat, refcountBits: format.refcountBits, pool };
  let planned: Qcow2Layout | undefined;
  await writeFileAtomically(out, rawToQcow2(rawPath, { ...options, onPlan: (layout) => (planned = layout) }));
  // The stream path spools every data cluster: half of them fit in memory, the rest go to disk.
  const memoryLimit = Math.floor(dataBytes(input.bytes, clusterSize) / 2);
  const spools: WatchedSpool[] = [];
  const spool = () => (spools.push(new WatchedSpool({ memoryLimit, tempDir: dir, pool })), spools.at(-1)!);
  const streamed = await collect(rawToQcow2(randomChunks(input.bytes, clusterSize + input.bytes.length + 1), { ...options, spool }));
  const spilled = spools.some((s) => s.spilledBeforeClose);
  const written = await readFile(out);
  const check = await qemuCheck(out);
  const compare = await qemuCompare(rawPath, out);
  // Round trip through our own reader, both ways of reading.
  const backRandom = await collect(writeRaw()(toRawClusters(qcow2Clusters(out, { pool }), { buffers: pool })));
  const backStream = await collect(writeRaw()(toRawClusters(qcow2Clusters(out, { randomAccess: false, pool }), { buffers: pool })));
  return { tag, out, planned, streamed, spilled, written, check, compare, size: (await stat(out)).size, backRandom, backStream, outstanding: pool.outstanding };
}

qemuTest('raw to qcow2: the full input matrix passes qemu-img check and compare, both paths identical', async (t) => {
  await withTempDir(async (dir) => {
    const ext4Path = await makeExt4(dir);
    const ext4: NamedInput = { name: 'ext4', slug: 'ext4', bytes: new Uint8Array(await readFile(ext4Path)) };
    const jobs: Promise<void>[] = [];
    for (const clusterSize of CLUSTER_SIZES) {
      for (const input of [...edgeInputs(clusterSize), ext4]) {
        const rawPath = input === ext4 ? ext4Path : join(dir, `${input.slug}-${clusterSize}.raw`);
        if (input !== ext4) await writeFile(rawPath, input.bytes);
        for (const format of FORMATS) {
          jobs.push(
            slot(async () => {
              const r = await checkCase(dir, input, rawPath, clusterSize, format);
              t.is(r.check.code, 0, `${r.tag}: qemu-img check: ${r.check.raw}`);
              t.is(r.check.corruptions + r.check.leaks + r.check.checkErrors, 0, `${r.tag}: ${r.check.raw}`);
              t.true(r.compare.identical, `${r.tag}: qemu-img compare: ${r.compare.output}`);
              t.is(r.size, r.planned?.totalLength ?? -1, `${r.tag}: output length differs from the plan`);
              t.true(r.streamed.equals(r.written), `${r.tag}: spooled stream and two-pass file differ`);
              t.is(r.spilled, dataBytes(input.bytes, clusterSize) > 0, `${r.tag}: the spool should spill to disk exactly when there is data`);
              const padded = Buffer.alloc(Math.ceil(input.bytes.length / 512) * 512);
              padded.set(input.bytes);
              t.true(r.backRandom.equals(padded), `${r.tag}: raw -> qcow2 -> raw (random access) is not the identity`);
              t.true(r.backStream.equals(padded), `${r.tag}: raw -> qcow2 -> raw (streaming) is not the identity`);
              t.is(r.outstanding, 0, `${r.tag}: pooled buffers not given back`);
            }),
          );
        }
      }
    }
    await Promise.all(jobs);
    t.is(sharedBufferPool().outstanding, 0, 'a stage took from the shared pool and kept it');
  });
});
