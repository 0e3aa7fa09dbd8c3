/** The programs in samples/ run, and what they write is what qemu-img expects. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { join, withTempDir } from './helpers/files.js';
import { qemuCheck, qemuCompare, qemuTest } from './helpers/qemu.js';

const run = promisify(execFile);
const samples = fileURLToPath(new URL('../../samples/', import.meta.url));

qemuTest('make-sample and raw-to-qcow2-with-it-pipe produce a clean qcow2 of the sample', async (t) => {
  await withTempDir(async (dir) => {
    const raw = join(dir, 'sample.raw');
    const out = join(dir, 'sample.qcow2');
    await run(process.execPath, [join(samples, 'make-sample.js'), raw]);
    const { stdout } = await run(process.execPath, [join(samples, 'raw-to-qcow2-with-it-pipe.js'), raw, out]);
    t.regex(stdout, /planned \d+ before the first byte/);
    const check = await qemuCheck(out);
    t.is(check.code, 0, check.raw);
    t.true((await qemuCompare(raw, out)).identical);
  });
});
