/**
 * Failures a command-line user can meet come as Qcow2StreamErrors (the CLI prints those as
 * they are, anything else as "internal error"): codec failures, zstd writing, and the
 * caller-supplied allocation maps of the library.
 */
import test from 'ava';
import type { Worker } from 'node:worker_threads';
import { CodecError } from '../src/codecs/codec.js';
import { zstdCodec } from '../src/codecs/zstd.js';
import { InputError, Qcow2StreamError, UnsupportedError } from '../src/errors.js';
import { AllocationMap } from '../src/format/allocation-map.js';
import { l2Entries } from '../src/format/geometry.js';
import { planLayout } from '../src/format/layout.js';
import { CodecPool } from '../src/node/codec-pool.js';
import { randomBytes } from './helpers/files.js';

test('CodecError is a Qcow2StreamError', (t) => {
  const error = new CodecError('stream error');
  t.true(error instanceof Qcow2StreamError);
  t.is(error.code, 'ERR_QCOW2_CODEC');
  t.is(error.name, 'CodecError');
});

test('a codec pool whose compression fails rejects with a CodecError', async (t) => {
  // Level 42 is out of deflate's range: each cluster fails in the worker.
  const pool = new CodecPool({ threads: 1, deflate: 'pako', level: 42 });
  try {
    await t.throwsAsync(pool.compressor().compress([new Uint8Array(65536)]), { instanceOf: CodecError, message: /^compression failed/ });
  } finally {
    await pool.close();
  }
});

test('a codec worker that dies with a batch in hand rejects it with a CodecError', async (t) => {
  const pool = new CodecPool({ threads: 1, deflate: 'pako' });
  try {
    const clusters = Array.from({ length: 64 }, (_, i) => randomBytes(65536, i + 1));
    const batch = pool.compressor().compress(clusters);
    const internals = pool as unknown as { slots: Array<{ worker: Worker }> };
    // Workers start on the first batch, once node:worker_threads has loaded.
    for (let i = 0; i < 200 && internals.slots.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    await internals.slots[0]!.worker.terminate();
    await t.throwsAsync(batch, { instanceOf: CodecError, message: /codec worker stopped \(exit code \d+\)/ });
  } finally {
    await pool.close();
  }
});

test('asking the zstd codec to compress is an UnsupportedError', (t) => {
  t.throws(() => zstdCodec().compress(new Uint8Array(65536)), { instanceOf: UnsupportedError });
});

test('allocation maps that do not fit the image are InputErrors', (t) => {
  const options = { version: 3, clusterSize: 65536, refcountBits: 16 } as const;
  t.throws(() => planLayout(options, 1 << 30, new AllocationMap(l2Entries(4096))), { instanceOf: InputError, message: /another cluster size/ });
  const long = new AllocationMap(l2Entries(65536));
  long.addData(100);
  t.throws(() => planLayout(options, 65536 * 100, long), { instanceOf: InputError, message: /guest cluster 100/ });
  t.throws(() => long.addData(50), { instanceOf: InputError, message: /ascending order/ });
});
