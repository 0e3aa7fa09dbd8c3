#!/usr/bin/env node
// Writes a small raw disk image to play with: text, random bytes and zero stretches, the
// same bytes every time. Usage: node samples/make-sample.js [PATH]  (default samples/sample.raw)
import { writeFileSync } from 'node:fs';

const path = process.argv[2] ?? new URL('./sample.raw', import.meta.url).pathname;
const MiB = 1024 * 1024;
const image = new Uint8Array(8 * MiB);

const text = new TextEncoder().encode('qcow2-stream sample disk: this sector holds text that compresses well.\n');
for (let at = 0; at + text.length <= MiB; at += text.length) image.set(text, at);

let x = 2463534242; // xorshift32: pseudo-random bytes, identical on every run
for (let at = 2 * MiB; at < 4 * MiB; at++) {
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  image[at] = x & 0xff;
}
image.set(text, 6 * MiB + 12345);

writeFileSync(path, image);
console.log(`wrote ${path}: ${image.length} bytes (4 MiB of it zeros)`);
