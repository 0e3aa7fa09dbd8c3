/**
 * The incompressibility probe: random clusters are called incompressible, and then deflate
 * agrees; clusters deflate can shrink are not: text, zeros, structured words (whose every
 * nth byte may look random), periodic data with a flat histogram, random bytes of a narrow
 * range, a random block repeated within the window.
 */
import test from 'ava';
import { nodeDeflate } from '../../src/codecs/deflate-node.js';
import { looksIncompressible } from '../../src/stages/incompressible.js';
import { prng, randomBytes } from '../helpers/files.js';

const deflate = nodeDeflate(6);
const shrinks = (cluster: Uint8Array) => deflate.compress(cluster).length < cluster.length - 1;

test('random clusters of 4 KiB, 64 KiB and 2 MiB look incompressible, and deflate cannot shrink them', (t) => {
  for (const size of [4096, 65536, 2097152]) {
    const seeds = size === 2097152 ? 4 : 200;
    let flagged = 0;
    for (let seed = 1; seed <= seeds; seed++) {
      const cluster = randomBytes(size, seed * 7919 + size);
      t.false(shrinks(cluster), `${size}: seed ${seed} shrank`);
      if (looksIncompressible(cluster)) flagged++;
    }
    // Conservative at 4 KiB, where a random sample's entropy varies most; certain above.
    t.true(flagged >= (size === 4096 ? seeds * 0.8 : seeds), `${size}: only ${flagged} of ${seeds} random clusters flagged`);
  }
});

function compressibleClusters(size: number): Array<[string, Uint8Array]> {
  const text = new TextEncoder().encode('the quick brown fox jumps over the lazy dog; '.repeat(Math.ceil(size / 45))).subarray(0, size);
  const zerosAtEnd = randomBytes(size, 3);
  zerosAtEnd.fill(0, size - size / 64);
  const halfText = randomBytes(size, 4);
  halfText.set(text.subarray(0, size / 2));
  const sevenBit = randomBytes(size, 5).map((b) => b & 0x7f);
  const block = randomBytes(2048, 6);
  const repeated = new Uint8Array(size);
  for (let at = 0; at < size; at += block.length) repeated.set(block, at);
  const next = prng(size);
  const view = (bytes: Uint8Array) => new DataView(bytes.buffer);
  const smallInts = new Uint8Array(size);
  for (let at = 0; at < size; at += 4) view(smallInts).setUint32(at, next() % 1_000_000, true);
  const pcm = new Uint8Array(size);
  for (let at = 0; at < size; at += 2) view(pcm).setInt16(at, Math.round(12000 * Math.sin(at / 37) + (next() % 2000) - 1000), true);
  const noisyLowByte = new Uint8Array(size);
  for (let at = 0; at < size; at += 4) view(noisyLowByte).setUint32(at, Math.floor(at / 1024) * 256 + (next() % 256), true);
  const record = randomBytes(32, 7);
  const records = new Uint8Array(size);
  for (let at = 0; at < size; at += 32) {
    records.set(record, at);
    view(records).setUint32(at, at / 32, true);
  }
  const modulo255 = Uint8Array.from({ length: size }, (_, i) => i % 255);
  return [
    ['text', text],
    ['little-endian integers under a million', smallInts],
    ['16-bit audio samples', pcm],
    ['32-bit words with a random low byte', noisyLowByte],
    ['32-byte records with a counter', records],
    ['a counter modulo 255 (flat histogram, period 255)', modulo255],
    ['random ending in zeros (1/64 of it)', zerosAtEnd],
    ['half text, half random', halfText],
    ['random 7-bit bytes', sevenBit],
    ['a 2 KiB random block repeated', repeated],
    ['zeros', new Uint8Array(size)],
  ];
}

test('clusters deflate can shrink are not called incompressible', (t) => {
  for (const size of [4096, 65536, 2097152]) {
    for (const [name, cluster] of compressibleClusters(size)) {
      t.true(shrinks(cluster), `${size} ${name}: deflate does not shrink it, so the case tests nothing`);
      t.false(looksIncompressible(cluster), `${size} ${name}: called incompressible`);
    }
  }
});

test('clusters smaller than 4 KiB are never called incompressible', (t) => {
  for (const size of [512, 1024, 2048]) t.false(looksIncompressible(randomBytes(size, size)), `${size}`);
});
