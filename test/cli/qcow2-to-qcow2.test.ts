/** qcow2 to qcow2 through the same stages: change version, cluster size, refcount width; from a pipe too. */
import { runCli } from '../helpers/cli.js';
import { qemuImg, run } from '../helpers/corpus.js';
import { join, withTempDir } from '../helpers/files.js';
import { qemuCheck, qemuTest } from '../helpers/qemu.js';

const targets = ['compat=0.10,cluster_size=4k', 'cluster_size=2M,refcount_bits=1', 'cluster_size=512,refcount_bits=64'];

qemuTest('qcow2 to qcow2: every target passes qemu-img check and compares identical, from a file and a pipe', async (t) => {
  await withTempDir(async (dir) => {
    const source = join(dir, 'source.qcow2');
    await qemuImg('create', '-q', '-f', 'qcow2', '-o', 'cluster_size=64k', source, '9M');
    await run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 1 0 100k', '-c', 'write -c -P 2 1M 64k', '-c', 'write -P 3 5000k 3k', '-c', 'write -z 64k 64k', source]);
    for (const options of targets) {
      for (const viaPipe of [false, true]) {
        const out = join(dir, `out-${viaPipe}.qcow2`);
        const result = viaPipe
          ? await runCli([], { shell: `cat '${source}' | $QCOW2_STREAM convert -O qcow2 -o ${options} - '${out}'` })
          : await runCli(['convert', '-f', 'qcow2', '-O', 'qcow2', '-o', options, source, out]);
        t.is(result.code, 0, result.stderr);
        const check = await qemuCheck(out);
        t.is(check.code, 0, `${options}: ${check.raw}`);
        const compare = await qemuImg('compare', '-f', 'qcow2', '-F', 'qcow2', source, out).then(
          () => true,
          () => false,
        );
        t.true(compare, `${options} (pipe: ${viaPipe}) differs from the source`);
      }
    }
  });
});
