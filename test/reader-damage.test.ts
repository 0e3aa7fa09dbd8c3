/**
 * Damaged and unsupported images, each made by patching a valid one: both readers fail with
 * the typed error that names the problem, and the CLI says so in one line with exit status 1.
 */
import test from 'ava';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { FormatError, LimitError, Qcow2StreamError, UnsupportedError } from '../src/errors.js';
import { readL1Entry } from '../src/format/l1-entry.js';
import { Qcow2File } from '../src/node/qcow2-file.js';
import { decompressClusters } from '../src/stages/decompress.js';
import { readQcow2 } from '../src/stages/qcow2-reader.js';
import { isOneLineError, runCli } from './helpers/cli.js';
import { patch, qemuImg, run } from './helpers/corpus.js';
import { hasQemu, qemuImg as qemuImgStatus, qemuTest } from './helpers/qemu.js';

let dir = '';
let valid = '';
/** Byte offsets in the valid image. */
const at = { l1: 0, l2: 0, data: 0, compressed: 0 };

test.before(async () => {
  if (!hasQemu && process.env.CI !== 'true') return;
  dir = await mkdtemp(join(tmpdir(), 'qcow2-stream-damage-'));
  valid = join(dir, 'valid.qcow2');
  await qemuImg('create', '-q', '-f', 'qcow2', valid, '4M');
  await run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 1 0 64k', '-c', 'write -c -P 2 64k 64k', '-c', 'write -P 3 1M 64k', valid]);
  const bytes = new Uint8Array(await readFile(valid));
  const view = new DataView(bytes.buffer);
  at.l1 = view.getUint32(44);
  at.l2 = readL1Entry(new DataView(bytes.buffer, at.l1), 0).l2Offset;
  at.data = view.getUint32(at.l2 + 4) % 2 ** 32;
  at.compressed = at.l2 + 8;
});

test.after.always(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

type ErrorClass = typeof FormatError | typeof UnsupportedError | typeof LimitError;

interface Damage {
  name: string;
  make: (path: string) => Promise<void>;
  type: ErrorClass;
  message: RegExp;
  /** qemu-img convert refuses it too (where qemu reads on, we still refuse). */
  qemuRefuses?: true;
}

const edit = (fn: (view: DataView, bytes: Uint8Array) => void) => (path: string) => patch(valid, fn, path);

/** The valid image cut to its first `length()` bytes. */
const truncated = (length: () => number) => async (path: string) => (await patch(valid, () => {}, path), await truncate(path, length()));

/**
 * Guest cluster 1's compressed stream replaced by a valid raw deflate stream (4 KiB window, as
 * qemu's) of `inflated` bytes of 2s, which must fit the sectors its descriptor gives.
 */
const compressedStreamOf = (inflated: number) =>
  edit((v, b) => {
    const stream = deflateRawSync(new Uint8Array(inflated).fill(2), { windowBits: 12, level: 6, memLevel: 9 });
    const offset = v.getUint32(at.compressed + 4);
    const sectors = 1 + ((v.getUint32(at.compressed) >>> (54 - 32)) & 0xff);
    const room = 512 * sectors - (offset % 512);
    if (stream.length > room) throw new Error(`a ${stream.length}-byte stream does not fit the ${room} bytes the descriptor gives`);
    b.fill(0, offset, offset + room);
    b.set(stream, offset);
  });

const damages: Damage[] = [
  { name: 'bad magic', make: edit((v) => v.setUint32(0, 0x51464900)), type: FormatError, message: /magic.*not a qcow2 image/ },
  { name: 'qcow version 1', make: edit((v) => v.setUint32(4, 1)), type: UnsupportedError, message: /qcow version 1/ },
  { name: 'version 4', make: edit((v) => v.setUint32(4, 4)), type: UnsupportedError, message: /version 4 is not supported/ },
  { name: 'cluster_bits 8', make: edit((v) => v.setUint32(20, 8)), type: FormatError, message: /cluster_bits/ },
  { name: 'cluster_bits 22', make: edit((v) => v.setUint32(20, 22)), type: FormatError, message: /cluster_bits/ },
  { name: 'header_length 96', make: edit((v) => v.setUint32(100, 96)), type: FormatError, message: /header_length/ },
  { name: 'header_length over the cluster', make: edit((v) => v.setUint32(100, 131072)), type: FormatError, message: /header_length/ },
  { name: 'refcount_order 7', make: edit((v) => v.setUint32(96, 7)), type: FormatError, message: /refcount_order/ },
  { name: 'a header extension running past cluster 0', make: edit((v) => v.setUint32(v.getUint32(100) + 4, 0x10000)), type: FormatError, message: /header extension.*past the end of cluster 0/ },
  { name: 'an L1 table over 32 MiB', make: edit((v) => v.setUint32(36, 5 * 1024 * 1024)), type: LimitError, message: /L1 table over 32 MiB/ },
  { name: 'an unaligned L1 table', make: edit((v) => v.setUint32(44, at.l1 + 512)), type: FormatError, message: /l1_table_offset.*not aligned/ },
  { name: 'an L1 table past the end', make: edit((v) => v.setUint32(40, 1)), type: FormatError, message: /L1 table.*past the end/ },
  { name: 'reserved bits in an L1 entry', make: edit((v) => v.setUint32(at.l1, v.getUint32(at.l1) | 0x01000000)), type: FormatError, message: /L1 entry 0.*reserved bits/ },
  { name: 'an unaligned L2 table', make: edit((v) => v.setUint32(at.l1 + 4, v.getUint32(at.l1 + 4) + 512)), type: FormatError, message: /L1 entry 0.*not cluster aligned/ },
  { name: 'an L2 table past the end', make: edit((v) => v.setUint32(at.l1, (v.getUint32(at.l1) | 0x10) >>> 0)), type: FormatError, message: /L1 entry 0.*past the end/ },
  { name: 'reserved bits in an L2 entry', make: edit((v) => v.setUint32(at.l2 + 4, v.getUint32(at.l2 + 4) | 0x100)), type: FormatError, message: /L2 entry.*reserved bits/ },
  { name: 'an unaligned data cluster', make: edit((v) => v.setUint32(at.l2 + 4, v.getUint32(at.l2 + 4) + 512)), type: FormatError, message: /not cluster aligned/ },
  { name: 'a data cluster past the end', make: edit((v) => v.setUint32(at.l2, v.getUint32(at.l2) | 0x10)), type: FormatError, message: /guest cluster 0.*past the end/ },
  {
    name: 'compressed data that does not inflate to a cluster',
    make: edit((v, b) => {
      const offset = v.getUint32(at.compressed + 4);
      b.fill(0xff, offset, offset + 64);
    }),
    type: FormatError,
    message: /compressed guest cluster 1/,
  },
  { name: 'a deflate stream that inflates to less than a cluster', make: compressedStreamOf(1000), type: FormatError, message: /compressed guest cluster 1.*1000 bytes/, qemuRefuses: true },
  { name: 'a truncated input', make: truncated(() => at.data + 1000), type: FormatError, message: /past the end/ },
  { name: 'a truncation inside the header', make: truncated(() => 50), type: FormatError, message: /header.*ends after 50 bytes/, qemuRefuses: true },
  // qemu-img reads the missing part of an L1 table as zeros, and converts with the data lost.
  { name: 'a truncation inside the L1 table', make: truncated(() => at.l1 + 4), type: FormatError, message: /L1 table.*past the end/ },
  { name: 'a truncation inside an L2 table', make: truncated(() => at.l2 + 100), type: FormatError, message: /L2 table.*past the end/, qemuRefuses: true },
  { name: 'AES encryption', make: edit((v) => v.setUint32(32, 1)), type: UnsupportedError, message: /AES-encrypted/ },
  { name: 'LUKS encryption', make: edit((v) => v.setUint32(32, 2)), type: UnsupportedError, message: /LUKS-encrypted/ },
  { name: 'an unknown incompatible feature', make: edit((v) => v.setUint32(76, v.getUint32(76) | (1 << 10))), type: UnsupportedError, message: /incompatible features.*bit 10/ },
  { name: 'an external data file', make: async (path) => qemuImg('create', '-q', '-f', 'qcow2', '-o', `data_file=${path}.data`, path, '1M'), type: UnsupportedError, message: /external data file/ },
  {
    name: 'a backing file and no -B',
    make: async (path) => {
      await writeFile(`${path}.base`, new Uint8Array(1 << 20));
      await qemuImg('create', '-q', '-f', 'qcow2', '-b', `${path}.base`, '-F', 'raw', path);
    },
    type: UnsupportedError,
    message: /backing file '.*\.base'.*--backing/,
  },
];

qemuTest('an L2 table that claims a terabyte of compressed data fails by what was read, allocating nothing for it', async (t) => {
  // 2 MiB clusters: 262144 entries, each claiming the largest compressed run (4 MiB) far past the end.
  const path = join(dir, 'greedy.qcow2');
  await qemuImg('create', '-q', '-f', 'qcow2', '-o', 'cluster_size=2M', path, '512G');
  await run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 1 0 4k', path]);
  await patch(path, (view) => {
    const l1 = view.getUint32(44);
    const l2 = view.getUint32(l1 + 4);
    for (let i = 0; i < 262144; i++) {
      view.setUint32(l2 + i * 8, 0x40000000 | (8191 << 17) | 1); // compressed, 8192 sectors, offset 2^32 + ...
      view.setUint32(l2 + i * 8 + 4, i * 4096);
    }
  });
  const before = process.memoryUsage().rss;
  const error = await t.throwsAsync(drain(decompressClusters()(readQcow2()(createReadStream(path)))));
  t.true(error instanceof FormatError, `${error?.constructor.name}: ${error?.message}`);
  t.regex(error?.message ?? '', /past the end of input/);
  t.true(process.memoryUsage().rss - before < 512 * 1024 * 1024, 'memory grew with what the table claimed');
});

async function drain(records: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of records) void _;
}

for (const damage of damages) {
  qemuTest(`refuses ${damage.name}, in both readers and on the command line`, async (t) => {
    const path = join(dir, `${damage.name.replace(/\W+/g, '-')}.qcow2`);
    await damage.make(path);
    const streaming = await t.throwsAsync(drain(decompressClusters()(readQcow2()(createReadStream(path)))));
    t.true(streaming instanceof damage.type, `streaming reader: ${streaming?.constructor.name}: ${streaming?.message}`);
    t.regex(streaming?.message ?? '', damage.message);
    const randomAccess = await t.throwsAsync(Qcow2File.open(path).then(async (image) => {
      try {
        await drain(decompressClusters()(image.clusters()));
      } finally {
        await image.close();
      }
    }));
    t.true(randomAccess instanceof damage.type, `random access: ${randomAccess?.constructor.name}: ${randomAccess?.message}`);
    t.true(randomAccess instanceof Qcow2StreamError);
    const cli = await runCli([], { shell: `cat '${path}' | $QCOW2_STREAM convert -f qcow2 -O raw - - > /dev/null` });
    t.is(cli.code, 1, cli.stderr);
    t.true(isOneLineError(cli.stderr), cli.stderr);
    t.regex(cli.stderr, damage.message);
    if (damage.qemuRefuses) t.not((await qemuImgStatus('convert', '-O', 'raw', path, `${path}.raw`)).code, 0, 'qemu-img converts it');
  });
}

qemuTest('a deflate stream that inflates past one cluster: its first cluster is the data, as qemu-img reads it', async (t) => {
  const path = join(dir, 'long-stream.qcow2');
  await compressedStreamOf(65536 + 4096)(path);
  const theirs = `${path}.qemu.raw`;
  t.is((await qemuImgStatus('convert', '-O', 'raw', path, theirs)).code, 0);
  const expected = await readFile(theirs);
  t.true(expected.subarray(65536, 131072).every((byte) => byte === 2));
  const piped = await runCli([], { shell: `cat '${path}' | $QCOW2_STREAM convert -f qcow2 -O raw - -` });
  t.is(piped.code, 0, piped.stderr);
  t.true(piped.stdout.equals(expected), 'streaming from a pipe gives other bytes than qemu-img');
  const ours = `${path}.raw`;
  const file = await runCli(['convert', '-O', 'raw', path, ours]);
  t.is(file.code, 0, file.stderr);
  t.true((await readFile(ours)).equals(expected), 'random access gives other bytes than qemu-img');
});
