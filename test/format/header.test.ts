import test from 'ava';
import { readFile } from 'node:fs/promises';
import { FormatError, LimitError, UnsupportedError } from '../../src/errors.js';
import { decodeHeader, encodeHeader, newHeader } from '../../src/format/header.js';
import { decodeExtensions, decodeFeatureNameTable, encodeExtensions, encodeFeatureNameTable, QEMU_FEATURE_NAMES } from '../../src/format/header-extensions.js';
import { EXT_FEATURE_NAME_TABLE } from '../../src/format/constants.js';
import { join, withTempDir } from '../helpers/files.js';
import { qemuImg, qemuTest } from '../helpers/qemu.js';

const big = 2 ** 44 + 2 ** 33 + 65536; // an offset above 2^32, cluster aligned

test('version 3 header round-trips, offsets above 2^32 exact', (t) => {
  const header = newHeader({ version: 3, clusterBits: 16, size: 16 * 2 ** 40, refcountOrder: 6, l1Size: 32768, l1TableOffset: big, refcountTableOffset: 65536, refcountTableClusters: 3 });
  const bytes = encodeHeader(header);
  t.is(bytes.length, 112);
  t.deepEqual(decodeHeader(bytes), header);
});

test('version 2 header is 72 bytes and round-trips', (t) => {
  const header = newHeader({ version: 2, clusterBits: 12, size: 1 << 30, refcountOrder: 4, l1Size: 512, l1TableOffset: 3 * 4096, refcountTableOffset: 4096, refcountTableClusters: 1 });
  const bytes = encodeHeader(header);
  t.is(bytes.length, 72);
  t.deepEqual(decodeHeader(bytes), header);
});

test('feature name table round-trips and fits a 512-byte cluster with the header', (t) => {
  const ext = encodeFeatureNameTable(QEMU_FEATURE_NAMES);
  const encoded = encodeExtensions([ext]);
  t.true(112 + encoded.length <= 512);
  const cluster = new Uint8Array(512);
  cluster.set(encoded, 112);
  const [decoded, ...rest] = decodeExtensions(cluster, 112, 512);
  t.is(rest.length, 0);
  t.is(decoded!.type, EXT_FEATURE_NAME_TABLE);
  t.deepEqual(decodeFeatureNameTable(decoded!.data), [...QEMU_FEATURE_NAMES]);
});

test('an extension running past cluster 0 is damage', (t) => {
  const cluster = new Uint8Array(512);
  const view = new DataView(cluster.buffer);
  view.setUint32(112, 0x12345678);
  view.setUint32(116, 400);
  const error = t.throws(() => decodeExtensions(cluster, 112, 512), { instanceOf: FormatError });
  t.is(error.field, 'header extension');
});

function valid(): Uint8Array {
  return encodeHeader(newHeader({ version: 3, clusterBits: 16, size: 1 << 30, refcountOrder: 4, l1Size: 2, l1TableOffset: 3 * 65536, refcountTableOffset: 65536, refcountTableClusters: 1 }));
}

function patched(at: number, write: (view: DataView) => void): Uint8Array {
  const bytes = valid();
  write(new DataView(bytes.buffer, at));
  return bytes;
}

const damage: Array<[string, Uint8Array, new (...args: never[]) => Error, string]> = [
  ['bad magic', patched(0, (v) => v.setUint32(0, 0x514649fc)), FormatError, 'magic'],
  ['qcow version 1', patched(4, (v) => v.setUint32(0, 1)), UnsupportedError, 'version'],
  ['version 4', patched(4, (v) => v.setUint32(0, 4)), UnsupportedError, 'version'],
  ['cluster_bits 8', patched(20, (v) => v.setUint32(0, 8)), FormatError, 'cluster_bits'],
  ['cluster_bits 22', patched(20, (v) => v.setUint32(0, 22)), FormatError, 'cluster_bits'],
  ['header_length 100', patched(100, (v) => v.setUint32(0, 100)), FormatError, 'header_length'],
  ['header_length 109 (not a multiple of 8)', patched(100, (v) => v.setUint32(0, 109)), FormatError, 'header_length'],
  ['refcount_order 7', patched(96, (v) => v.setUint32(0, 7)), FormatError, 'refcount_order'],
  ['unaligned L1 table', patched(40, (v) => v.setUint32(4, 3 * 65536 + 512)), FormatError, 'l1_table_offset'],
  ['L1 too small for the size', patched(36, (v) => v.setUint32(0, 1)), FormatError, 'l1_size'],
  ['zstd type without the incompatible bit', patched(104, (v) => v.setUint8(0, 1)), FormatError, 'compression_type'],
];

for (const [name, bytes, type, field] of damage) {
  test(`decodeHeader refuses ${name}, naming ${field}`, (t) => {
    const error = t.throws(() => decodeHeader(bytes)) as Error & { field?: string; feature?: string };
    t.true(error instanceof type, `${error.constructor.name}: ${error.message}`);
    t.is(error.field ?? error.feature, field);
  });
}

test('decodeHeader refuses an L1 table over 32 MiB with a LimitError', (t) => {
  const bytes = patched(36, (v) => v.setUint32(0, 4 * 1024 * 1024 + 1));
  t.throws(() => decodeHeader(bytes), { instanceOf: LimitError });
});

test('decodeHeader refuses truncated input', (t) => {
  t.throws(() => decodeHeader(valid().subarray(0, 80)), { instanceOf: FormatError });
});

const created: Array<{ options: string; compat: string; refcountBits: number; clusterSize: number; size: number }> = [
  { options: 'compat=0.10,cluster_size=65536', compat: '0.10', refcountBits: 16, clusterSize: 65536, size: 1 << 30 },
  { options: 'compat=1.1,cluster_size=512,refcount_bits=1', compat: '1.1', refcountBits: 1, clusterSize: 512, size: 10 * 2 ** 20 },
  { options: 'compat=1.1,cluster_size=2M,refcount_bits=64', compat: '1.1', refcountBits: 64, clusterSize: 2 * 2 ** 20, size: 16 * 2 ** 40 },
];

for (const c of created) {
  qemuTest(`decodes the header qemu-img create writes (${c.options})`, async (t) => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'x.qcow2');
      const made = await qemuImg('create', '-q', '-f', 'qcow2', '-o', c.options, path, String(c.size));
      t.is(made.code, 0, made.stderr);
      const info = JSON.parse((await qemuImg('info', '--output=json', path)).stdout) as {
        'virtual-size': number;
        'cluster-size': number;
        'format-specific': { data: { compat: string; 'refcount-bits'?: number } };
      };
      const header = decodeHeader(new Uint8Array(await readFile(path)));
      t.is(header.size, info['virtual-size']);
      t.is(2 ** header.clusterBits, info['cluster-size']);
      t.is(header.version === 2 ? '0.10' : '1.1', info['format-specific'].data.compat);
      t.is(2 ** header.refcountOrder, info['format-specific'].data['refcount-bits'] ?? 16);
    });
  });
}
