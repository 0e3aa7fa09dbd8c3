/**
 * `check` against `qemu-img check`, image by image: clean images, damage of every kind we
 * could think of (made by patching valid images), and random mutations. The verdict (exit
 * status: clean 0, could not check 1, corrupt 2, leaked 3) must be the same.
 */
import { execFile, spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { readL1Entry } from '../src/format/l1-entry.js';
import { CLI, runCli } from './helpers/cli.js';
import { buildCorpus, qemuImg } from './helpers/corpus.js';
import { join, withTempDir } from './helpers/files.js';
import { mutate } from './fuzz/mutate.js';
import { makeSeeds } from './fuzz/seeds.js';
import { qemuTest } from './helpers/qemu.js';

const run = promisify(execFile);

function verdicts(path: string): { qemu: number | null; ours: number | null; qemuText: string; oursText: string } {
  const qemu = spawnSync('qemu-img', ['check', path], { encoding: 'utf8' });
  const ours = spawnSync(process.execPath, [CLI, 'check', path], { encoding: 'utf8' });
  return { qemu: qemu.status, ours: ours.status, qemuText: (qemu.stdout + qemu.stderr).trim(), oursText: (ours.stdout + ours.stderr).trim() };
}

interface Layout {
  clusterSize: number;
  l1: number;
  l2: number;
  refcountTable: number;
  refcountBlock: number;
  /** Byte offset of a guest cluster's L2 entry: 0 and 1 are shared with the snapshot, 16 is compressed, 160 is the active disk's own. */
  entry: (guest: number) => number;
}

async function layoutOf(path: string): Promise<Layout> {
  const bytes = new Uint8Array(await readFile(path));
  const view = new DataView(bytes.buffer);
  const l1 = view.getUint32(44);
  const l2 = readL1Entry(new DataView(bytes.buffer, l1), 0).l2Offset;
  const refcountTable = view.getUint32(52);
  return { clusterSize: 65536, l1, l2, refcountTable, refcountBlock: view.getUint32(refcountTable + 4), entry: (guest) => l2 + guest * 8 };
}

type Edit = (view: DataView, bytes: Uint8Array, layout: Layout) => Uint8Array | void;

/** Guest cluster written after the snapshot: its host cluster has refcount 1 and the copied flag. */
const OWN = 160;

const damage: Array<[string, number, Edit]> = [
  // Refcount 2 with the copied flag set: qemu calls that corruption, not a leak.
  ['refcount of a data cluster one too high', 2, (v, _b, l) => v.setUint16(l.refcountBlock + 2 * (v.getUint32(l.entry(OWN) + 4) / l.clusterSize), 2)],
  ['refcount of a data cluster zero', 2, (v, _b, l) => v.setUint16(l.refcountBlock + 2 * (v.getUint32(l.entry(OWN) + 4) / l.clusterSize), 0)],
  ['refcount of a shared data cluster one too low', 2, (v, _b, l) => v.setUint16(l.refcountBlock + 2 * (v.getUint32(l.entry(0) + 4) / l.clusterSize), 1)],
  ['a cluster nobody uses with refcount 1', 3, (v, b, l) => {
    const clusters = b.length / l.clusterSize;
    v.setUint16(l.refcountBlock + 2 * clusters, 1);
    const grown = new Uint8Array(b.length + l.clusterSize);
    grown.set(b);
    return grown;
  }],
  ['the copied flag missing on a data entry', 2, (v, _b, l) => v.setUint32(l.entry(OWN), v.getUint32(l.entry(OWN)) & 0x7fffffff)],
  ['the copied flag on a shared data entry', 2, (v, _b, l) => v.setUint32(l.entry(0), (v.getUint32(l.entry(0)) | 0x80000000) >>> 0)],
  ['the copied flag missing on an L1 entry', 2, (v, _b, l) => v.setUint32(l.l1, v.getUint32(l.l1) & 0x7fffffff)],
  ['the copied flag on a compressed entry', 2, (v, _b, l) => v.setUint32(l.entry(16), (v.getUint32(l.entry(16)) | 0x80000000) >>> 0)],
  ['two guest clusters on one host cluster', 2, (v, _b, l) => v.setUint32(l.entry(1) + 4, v.getUint32(l.entry(0) + 4))],
  ['an unaligned data cluster', 2, (v, _b, l) => v.setUint32(l.entry(0) + 4, v.getUint32(l.entry(0) + 4) + 512)],
  ['a data cluster far past the end of the file', 2, (v, _b, l) => v.setUint32(l.entry(0), (v.getUint32(l.entry(0)) | 0x10) >>> 0)],
  ['an unaligned L2 table', 2, (v, _b, l) => v.setUint32(l.l1 + 4, v.getUint32(l.l1 + 4) + 512)],
  ['reserved bits in an L1 entry', 2, (v, _b, l) => v.setUint32(l.l1, (v.getUint32(l.l1) | 0x01000000) >>> 0)],
  ['reserved bits in an L2 entry', 2, (v, _b, l) => v.setUint32(l.entry(0) + 4, v.getUint32(l.entry(0) + 4) | 0x100)],
  ['reserved bits in a refcount table entry', 2, (v, _b, l) => v.setUint32(l.refcountTable + 4, v.getUint32(l.refcountTable + 4) | 1)],
  ['a refcount block outside the file', 2, (v, _b, l) => v.setUint32(l.refcountTable, 1)],
  ['an unaligned refcount block', 1, (v, _b, l) => v.setUint32(l.refcountTable + 4, v.getUint32(l.refcountTable + 4) + 512)],
  ['a snapshot table entry with too much extra data', 1, (v) => {
    const table = v.getUint32(68);
    v.setUint32(table + 36, 4096);
  }],
];

qemuTest('damage of every kind: the same verdict as qemu-img check', async (t) => {
  await withTempDir(async (dir) => {
    const valid = join(dir, 'valid.qcow2');
    await qemuImg('create', '-q', '-f', 'qcow2', valid, '64M');
    await run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 1 0 128k', '-c', 'write -c -P 2 1M 64k', '-c', 'write -P 3 10M 64k', valid]);
    await qemuImg('snapshot', '-c', 'snap', valid);
    await run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 4 10M 4k', valid]);
    const layout = await layoutOf(valid);
    const clean = verdicts(valid);
    t.deepEqual([clean.qemu, clean.ours], [0, 0], clean.oursText);
    for (const [name, expected, edit] of damage) {
      const bytes = new Uint8Array(await readFile(valid));
      const changed = edit(new DataView(bytes.buffer), bytes, layout) ?? bytes;
      const path = join(dir, `${name.replace(/\W+/g, '-')}.qcow2`);
      await writeFile(path, changed);
      const v = verdicts(path);
      t.is(v.qemu, expected, `${name}: qemu-img check gave ${v.qemu}, not the expected ${expected}: ${v.qemuText.split('\n')[0]}`);
      t.is(v.ours, v.qemu, `${name}: ours ${v.ours}, qemu-img ${v.qemu}\n  qemu: ${v.qemuText.split('\n')[0]}\n  ours: ${v.oursText.split('\n')[0]}`);
    }
  });
});

qemuTest('every image of the reader corpus is clean to both tools, with the same statistics', async (t) => {
  await withTempDir(async (dir) => {
    for (const image of await buildCorpus(dir)) {
      if (image.name.includes('past') || image.warnings) continue; // deliberately odd images
      const qemu = JSON.parse((await run('qemu-img', ['check', '--output=json', image.path])).stdout) as Record<string, number>;
      const result = await runCli(['check', '--output=json', image.path]);
      t.is(result.code, 0, `${image.name}: ${result.stdout}`);
      const ours = JSON.parse(result.stdout.toString()) as Record<string, number>;
      for (const key of ['image-end-offset', 'total-clusters', 'allocated-clusters', 'fragmented-clusters', 'compressed-clusters']) {
        t.is(ours[key], qemu[key], `${image.name}: ${key}`); // both leave out counts that are 0
      }
    }
    // And from a pipe.
    const piped = await runCli([], { shell: `cat '${join(dir, 'snapshots.qcow2')}' | $QCOW2_STREAM check -` });
    t.is(piped.code, 0, piped.stderr);
  });
});

qemuTest('500 random mutations: the verdicts agree (at least 95%)', async (t) => {
  await withTempDir(async (dir) => {
    const seeds = await makeSeeds(dir);
    let agree = 0;
    const disagreements: string[] = [];
    const cases = 500;
    for (let i = 0; i < cases; i++) {
      const seed = seeds[i % seeds.length]!;
      const { image, description } = mutate(seed.image, 7000 + i);
      const path = join(dir, 'case.qcow2');
      await writeFile(path, image);
      const v = verdicts(path);
      // qemu-img crashing, or calling an empty file "not a format that checks", is no verdict.
      if (v.qemu === null || v.qemu === 63 || v.qemu === v.ours) agree++;
      else disagreements.push(`${seed.name} #${7000 + i}: ${description}: qemu ${v.qemu}, ours ${v.ours}`);
    }
    t.log(`${agree}/${cases} agree; ${disagreements.slice(0, 5).join('\n')}`);
    t.true(agree >= cases * 0.95, disagreements.join('\n'));
  });
});
