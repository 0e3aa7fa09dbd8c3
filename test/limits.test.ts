/** Every limit, tightened, stops the image that asks for more, with a LimitError naming it. */
import test from 'ava';
import { createReadStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { LimitError, OptionError } from '../src/errors.js';
import { resolveLimits, type Limits } from '../src/limits.js';
import { backingOpener } from '../src/node/backing.js';
import { Qcow2File } from '../src/node/qcow2-file.js';
import { qcow2Clusters } from '../src/node/qcow2-source.js';
import { readQcow2 } from '../src/stages/qcow2-reader.js';
import { runCli } from './helpers/cli.js';
import { qemuImg, run } from './helpers/corpus.js';
import { join, withTempDir } from './helpers/files.js';
import { qemuTest } from './helpers/qemu.js';

async function drain(records: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of records) void _;
}

/** Both readers refuse `path` under `limits` with a LimitError whose message matches. */
async function refusedByBoth(t: import('ava').ExecutionContext, path: string, limits: Partial<Limits>, message: RegExp) {
  const streaming = await t.throwsAsync(drain(readQcow2({ limits })(createReadStream(path))));
  t.true(streaming instanceof LimitError, String(streaming));
  t.regex(streaming?.message ?? '', message);
  const random = await t.throwsAsync(Qcow2File.open(path, { limits }).then((f) => f.close()));
  t.true(random instanceof LimitError, String(random));
}

qemuTest('header limits: L1 size, refcount table, virtual size, snapshots, extensions', async (t) => {
  await withTempDir(async (dir) => {
    const image = join(dir, 'x.qcow2');
    await qemuImg('create', '-q', '-f', 'qcow2', image, '8G');
    await qemuImg('snapshot', '-c', 'one', image);
    await refusedByBoth(t, image, { maxL1Bytes: 64 }, /L1 table over/);
    await refusedByBoth(t, image, { maxRefcountTableBytes: 1024 }, /refcount table over/);
    await refusedByBoth(t, image, { maxVirtualSize: 4 * 2 ** 30 }, /virtual disk is over/);
    await refusedByBoth(t, image, { maxSnapshots: 0 }, /snapshot table too large/);
    await refusedByBoth(t, image, { maxHeaderExtensions: 0 }, /more than 0 header extensions/);
    await refusedByBoth(t, image, { maxHeaderExtensionBytes: 100 }, /over the 100-byte limit/);
    // The defaults read it.
    await drain(readQcow2()(createReadStream(image)));
  });
});

qemuTest('backing chain depth', async (t) => {
  await withTempDir(async (dir) => {
    await writeFile(join(dir, 'base.raw'), new Uint8Array(65536));
    await qemuImg('create', '-q', '-f', 'qcow2', '-b', 'base.raw', '-F', 'raw', join(dir, 'a.qcow2'));
    await qemuImg('create', '-q', '-f', 'qcow2', '-b', 'a.qcow2', '-F', 'qcow2', join(dir, 'b.qcow2'));
    await qemuImg('create', '-q', '-f', 'qcow2', '-b', 'b.qcow2', '-F', 'qcow2', join(dir, 'top.qcow2'));
    const top = join(dir, 'top.qcow2');
    const deep = await t.throwsAsync(drain(qcow2Clusters(top, { backing: backingOpener({ path: join(dir, 'b.qcow2'), baseDir: dir, limits: { maxBackingDepth: 2 } }) })));
    t.true(deep instanceof LimitError, String(deep));
    await drain(qcow2Clusters(top, { backing: join(dir, 'b.qcow2') }));
  });
});

qemuTest('spool memory and disk: an image written out of order runs out of room, by name', async (t) => {
  await withTempDir(async (dir) => {
    const image = join(dir, 'resized.qcow2');
    await qemuImg('create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4k', image, '1M');
    await run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 1 0 512k', image]);
    await qemuImg('resize', '-q', image, '64M'); // L1 moves after the data: the data waits
    const memory = await t.throwsAsync(drain(qcow2Clusters(createReadStream(image), { limits: { spoolMemory: 65536, spoolDisk: 65536 }, tempDir: dir })));
    t.true(memory instanceof LimitError, String(memory));
    t.regex(memory?.message ?? '', /temp file space/);
    const cli = await runCli([], { shell: `cat '${image}' | $QCOW2_STREAM convert -O raw --spool-memory 64k --spool-disk 64k --tmpdir '${dir}' - '${dir}/out.raw'` });
    t.is(cli.code, 1);
    t.regex(cli.stderr, /spool needs more than 65536 bytes of temp file space|need more than 65536 bytes of temp file space/);
  });
});

test('limits are validated once, one message per bad value', (t) => {
  t.throws(() => resolveLimits({ maxL1Bytes: -1 }), { instanceOf: OptionError, message: /limits.maxL1Bytes/ });
  t.throws(() => resolveLimits({ spoolMemory: Number.NaN }), { instanceOf: OptionError });
  t.is(resolveLimits({ spoolDisk: Infinity }).spoolDisk, Infinity);
});
