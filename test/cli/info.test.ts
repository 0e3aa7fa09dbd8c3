/** `info` reports what qemu-img info reports, from a file or from a pipe. */
import { readFile, stat, writeFile } from 'node:fs/promises';
import { runCli } from '../helpers/cli.js';
import { qemuImg, run } from '../helpers/corpus.js';
import { join, withTempDir } from '../helpers/files.js';
import { qemuTest } from '../helpers/qemu.js';

interface QemuInfo {
  'virtual-size': number;
  'cluster-size'?: number;
  'backing-filename'?: string;
  'backing-filename-format'?: string;
  'dirty-flag'?: boolean;
  'format-specific'?: { data: Record<string, unknown> };
}

const cases: Array<[string, string[]]> = [
  ['v3 zstd 2M', ['-o', 'compression_type=zstd,cluster_size=2M,refcount_bits=64']],
  ['v2', ['-o', 'compat=0.10']],
  ['extended L2, lazy refcounts', ['-o', 'extended_l2=on,lazy_refcounts=on']],
  ['backing file', ['-b', 'base.raw', '-F', 'raw']],
];

for (const [name, options] of cases) {
  qemuTest(`info matches qemu-img info: ${name}`, async (t) => {
    await withTempDir(async (dir) => {
      await run('truncate', ['-s', '1M', join(dir, 'base.raw')]);
      const image = join(dir, 'image.qcow2');
      await qemuImg('create', '-q', '-f', 'qcow2', ...options, image, '3G');
      const expected = JSON.parse((await run('qemu-img', ['info', '--output=json', image])).stdout) as QemuInfo;
      for (const [how, result] of [
        ['file', await runCli(['info', '--output=json', image])],
        ['pipe', await runCli([], { shell: `cat '${image}' | $QCOW2_STREAM info --output=json -` })],
      ] as const) {
        t.is(result.code, 0, result.stderr);
        const ours = JSON.parse(result.stdout.toString()) as QemuInfo & { 'actual-size'?: number };
        t.is(ours['virtual-size'], expected['virtual-size'], how);
        t.is(ours['cluster-size'], expected['cluster-size'], how);
        t.is(ours['backing-filename'], expected['backing-filename'], how);
        t.is(ours['backing-filename-format'], expected['backing-filename-format'], how);
        t.is(ours['dirty-flag'], expected['dirty-flag'], how);
        for (const key of ['compat', 'compression-type', 'lazy-refcounts', 'refcount-bits', 'corrupt', 'extended-l2']) {
          t.deepEqual(ours['format-specific']?.data[key], expected['format-specific']?.data[key], `${how}: ${key}`);
        }
        if (how === 'file') t.is(ours['actual-size'], (await stat(image)).blocks * 512);
      }
    });
  });
}

qemuTest('info on an encrypted image says so instead of refusing', async (t) => {
  await withTempDir(async (dir) => {
    const image = join(dir, 'image.qcow2');
    await qemuImg('create', '-q', '-f', 'qcow2', image, '1M');
    const bytes = await readFile(image);
    bytes.writeUInt32BE(2, 32);
    await writeFile(image, bytes);
    const result = await runCli(['info', image]);
    t.is(result.code, 0, result.stderr);
    t.regex(result.stdout.toString(), /encrypted: yes/);
  });
});
