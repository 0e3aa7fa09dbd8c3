#!/usr/bin/env node
// Downloads a qcow2 image from a URL straight into a sparse raw file: one streaming GET,
// read strictly forward, compressed clusters inflated on every core, no temp file for
// images whose tables come before their data (qemu-img convert's, ours).
// Usage: node samples/download-qcow2-to-raw.js URL OUT.raw
import { httpSource, openSource, toRawClusters, writeRawFile } from '../build/src/index.js';

const [url, output] = process.argv.slice(2);
if (!url || !output) {
  console.error('usage: download-qcow2-to-raw.js URL OUT.raw');
  process.exit(2);
}

const { chunks, length } = await httpSource(new URL(url), url);
const { records } = await openSource(chunks, { format: 'qcow2', onWarning: (message) => console.warn(`warning: ${message}`) });
const written = await writeRawFile(output, toRawClusters(records));
console.log(`${output}: ${written} bytes of data from ${length ?? 'an unknown number of'} bytes of qcow2`);
