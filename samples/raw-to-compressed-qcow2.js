#!/usr/bin/env node
// Converts a raw image to compressed qcow2 with it-pipe stages, on every core:
// bytes -> chunkRaw -> compressClusters (node:zlib on the thread pool) -> writeQcow2 -> a file.
// Usage: node samples/raw-to-compressed-qcow2.js IN.raw OUT.qcow2
import { createReadStream } from 'node:fs';
import { pipe } from 'it-pipe';
import { chunkRaw, compressClusters, tempFileSpool, threadpoolCompressor, writeFileAtomically, writeQcow2 } from '../build/src/index.js';

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  console.error('usage: raw-to-compressed-qcow2.js IN.raw OUT.qcow2');
  process.exit(2);
}

const compressor = threadpoolCompressor(); // qemu's deflate settings, one stream per thread
try {
  let planned = 0;
  const written = await pipe(
    createReadStream(input),
    chunkRaw({ clusterSize: 65536 }),
    compressClusters({ compressor }), // clusters that do not shrink stay as they are
    // Compressed lengths are only known once compressed, so the data waits in a spool.
    writeQcow2({ spool: tempFileSpool(), onPlan: (plan) => (planned = plan.totalLength) }),
    (bytes) => writeFileAtomically(output, bytes),
  );
  console.log(`${output}: ${written} bytes, compressed (planned ${planned})`);
} finally {
  compressor.close();
}
