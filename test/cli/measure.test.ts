/**
 * measure: qemu-img measure's figures for an empty disk and for real sources, and an exact
 * size that is the length convert then writes.
 */
import { open, writeFile } from 'node:fs/promises';
import { runCli } from '../helpers/cli.js';
import { join, randomBytes, withTempDir } from '../helpers/files.js';
import { makeExt4 } from '../helpers/inputs.js';
import { qemuImg, qemuTest } from '../helpers/qemu.js';

async function ours(args: string[]): Promise<Record<string, number>> {
  const result = await runCli(['measure', '--output=json', ...args]);
  if (result.code !== 0) throw new Error(result.stderr);
  return JSON.parse(result.stdout.toString()) as Record<string, number>;
}

async function qemus(args: string[]): Promise<Record<string, number>> {
  const { stdout, code, stderr } = await qemuImg('measure', '--output=json', '-O', 'qcow2', ...args);
  if (code !== 0) throw new Error(stderr);
  return JSON.parse(stdout) as Record<string, number>;
}

qemuTest('measure agrees with qemu-img measure, and its exact size is what convert writes', async (t) => {
  await withTempDir(async (dir) => {
    // Data with no all-zero cluster, in a sparse file: qemu counts the extents, we the clusters.
    const sparse = join(dir, 'sparse.raw');
    const file = await open(sparse, 'w');
    await file.write(randomBytes(3 << 20, 1), 0, 3 << 20, 0);
    await file.write(randomBytes(1 << 20, 2), 0, 1 << 20, 40 << 20);
    await file.truncate(64 << 20);
    await file.close();
    const qcow2 = join(dir, 'from-qemu.qcow2');
    await qemuImg('convert', '-O', 'qcow2', '-o', 'cluster_size=4k', sparse, qcow2);
    const ext4 = await makeExt4(dir, 8);

    for (const [source, options] of [
      [sparse, ''],
      [sparse, 'cluster_size=4k,refcount_bits=1'],
      [qcow2, 'compat=0.10'],
    ] as const) {
      const o = options ? ['-o', options] : [];
      const mine = await ours([...o, source]);
      const theirs = await qemus([...o, source]);
      t.is(mine['required'], theirs['required'], `${source} ${options}: required`);
      t.is(mine['fully-allocated'], theirs['fully-allocated'], `${source} ${options}: fully allocated`);
      const written = await runCli(['convert', '-O', 'qcow2', ...o, source, '-']);
      t.is(mine['exact'], written.stdout.length, `${source} ${options}: exact`);
    }
    const compressed = await ours(['-c', ext4]);
    const written = await runCli([], { shell: `cat '${ext4}' | $QCOW2_STREAM convert -c -O qcow2 - -` });
    t.is(compressed['exact'], written.stdout.length);
    // Clusters the probe stores untried, though deflate would shrink it: the flag changes the size, and measure follows.
    // Each saves about 2 KiB packed, so 40 of them save at least one whole cluster.
    const blindSpots = new Uint8Array(40 * 65536);
    for (let i = 0; i < 40; i++) {
      blindSpots.set(randomBytes(65536, 100 + i), i * 65536);
      blindSpots.copyWithin(i * 65536 + 32768, i * 65536 + 30720, i * 65536 + 32768);
    }
    const spot = join(dir, 'blind-spots.raw');
    await writeFile(spot, blindSpots);
    const sizes: number[] = [];
    for (const flags of [[], ['--compress-every-cluster']]) {
      const measured = await ours(['-c', ...flags, spot]);
      const out = await runCli(['convert', '-c', ...flags, '-O', 'qcow2', spot, '-']);
      t.is(measured['exact'], out.stdout.length, `${flags.join(' ') || 'default'}: exact`);
      sizes.push(out.stdout.length);
    }
    t.true(sizes[1]! < sizes[0]!, `deflating every cluster gave ${sizes[1]} bytes, not fewer than ${sizes[0]}`);
    t.deepEqual(Object.keys(await ours(['--size', '1T'])), ['required', 'fully-allocated']);
    const human = await runCli(['measure', '--size', '10G']);
    t.regex(human.stdout.toString(), /^required size: \d+\nfully allocated size: \d+\n$/);
    const usage = await runCli(['measure']);
    t.is(usage.code, 2);
    t.regex(usage.stderr, /needs either --size SIZE or one SRC/);
  });
});
