#!/usr/bin/env node
// Converts a raw image read from a pipe-like source to qcow2 with it-pipe stages:
// bytes -> chunkRaw -> writeQcow2 -> a file. Usage: node samples/raw-to-qcow2-with-it-pipe.js IN.raw OUT.qcow2
import { createReadStream } from 'node:fs';
import { pipe } from 'it-pipe';
import { chunkRaw, tempFileSpool, writeFileAtomically, writeQcow2 } from '../build/src/index.js';

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  console.error('usage: raw-to-qcow2-with-it-pipe.js IN.raw OUT.qcow2');
  process.exit(2);
}

let expected = 0;
const written = await pipe(
  createReadStream(input), // any async iterable of bytes: a socket, an HTTP body, stdin
  chunkRaw({ clusterSize: 65536 }),
  writeQcow2({ compat: '1.1', spool: tempFileSpool({ memoryLimit: 16 * 1024 * 1024 }), onPlan: (plan) => (expected = plan.totalLength) }),
  (bytes) => writeFileAtomically(output, bytes),
);
console.log(`${output}: ${written} bytes (planned ${expected} before the first byte)`);
