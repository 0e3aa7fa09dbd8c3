/**
 * Inflating straight into a cluster buffer: the same bytes as inflateRawSync, the first
 * cluster of a longer stream, and a clear error for short or damaged streams, after which
 * the reused inflater still works.
 */
import test from 'ava';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { nodeDeflate } from '../../src/codecs/deflate-node.js';
import { nodeInflater } from '../../src/codecs/node-inflater.js';
import { randomBytes } from '../helpers/files.js';

const codec = nodeDeflate(6);
const text = (n: number, seed: number) => new TextEncoder().encode(`cluster ${seed}: ${'lorem ipsum dolor sit amet '.repeat(Math.ceil(n / 27))}`).subarray(0, n);

test('this Node has what the direct inflater needs (otherwise reads fall back to a copy per cluster)', (t) => {
  t.not(nodeInflater(), undefined);
  t.is(typeof codec.decompressInto, 'function');
});

test('inflating into a buffer gives the bytes inflateRawSync gives, cluster after cluster', (t) => {
  for (const size of [512, 4096, 65536, 2097152]) {
    const target = new Uint8Array(size);
    for (let seed = 1; seed <= 5; seed++) {
      const cluster = seed % 2 ? text(size, seed) : randomBytes(size, seed);
      const stream = codec.compress(cluster);
      codec.decompressInto!(stream, target);
      // Buffer.equals: ava's deepEqual takes seconds on a 2 MiB array.
      t.true(Buffer.from(target.buffer).equals(inflateRawSync(stream)), `${size} seed ${seed}: not inflateRawSync's bytes`);
      t.true(Buffer.from(codec.decompress(stream, size)).equals(cluster), `${size} seed ${seed}: decompress gave other bytes`);
      t.true(Buffer.from(target.buffer).equals(cluster), `${size} seed ${seed}: not the cluster`);
    }
  }
});

test('a stream that goes on past the cluster gives its first cluster; bytes after a stream are ignored', (t) => {
  const long = text(8192, 7);
  const target = new Uint8Array(4096);
  codec.decompressInto!(deflateRawSync(long), target);
  t.deepEqual(target, long.subarray(0, 4096));
  const cluster = text(4096, 8);
  const padded = new Uint8Array([...codec.compress(cluster), 0xde, 0xad, 0xbe, 0xef]);
  codec.decompressInto!(padded, target);
  t.deepEqual(target, cluster);
});

test('short and damaged streams fail with a message, and the next good stream still inflates', (t) => {
  const target = new Uint8Array(4096);
  const short = deflateRawSync(text(1000, 9));
  t.throws(() => codec.decompressInto!(short, target), { message: /inflates to 1000 bytes, not a whole 4096-byte cluster/ });
  // Block type 3 is reserved: zlib reports "invalid block type".
  t.throws(() => codec.decompressInto!(new Uint8Array([0x07, 1, 2, 3]), target), { message: /deflate stream is damaged \(invalid block type\)/ });
  const cluster = text(4096, 10);
  codec.decompressInto!(codec.compress(cluster), target);
  t.deepEqual(target, cluster);
});
