/**
 * A compressed descriptor whose fields cannot hold the stream (too many sectors for the
 * count, an offset past its x bits) is refused with a typed error, not written wrong.
 */
import test from 'ava';
import { InputError, LimitError } from '../../src/errors.js';
import { readL2Entry, writeCompressedL2Entry } from '../../src/format/l2-entry.js';

test('a compressed descriptor its fields cannot hold is refused, not written wrong', (t) => {
  const view = new DataView(new ArrayBuffer(8));
  // 512-byte clusters: a 1-bit sector count, so a stream may cover at most 2 sectors.
  writeCompressedL2Entry(view, 0, 4096, 1024, 9);
  t.deepEqual(readL2Entry(view, 0, 0, 9, 3), { kind: 'compressed', hostOffset: 4096, length: 1024 });
  t.throws(() => writeCompressedL2Entry(view, 0, 4096, 1025, 9), { instanceOf: InputError });
  t.throws(() => writeCompressedL2Entry(view, 0, 4097, 1024, 9), { instanceOf: InputError });
  t.throws(() => writeCompressedL2Entry(view, 0, 4096, 0, 9), { instanceOf: InputError });
  // 2 MiB clusters: x = 49, so host offsets stop below 2^49.
  writeCompressedL2Entry(view, 0, 2 ** 49 - 512, 100, 21);
  t.deepEqual(readL2Entry(view, 0, 0, 21, 3), { kind: 'compressed', hostOffset: 2 ** 49 - 512, length: 512 });
  t.throws(() => writeCompressedL2Entry(view, 0, 2 ** 49, 100, 21), { instanceOf: LimitError });
});
