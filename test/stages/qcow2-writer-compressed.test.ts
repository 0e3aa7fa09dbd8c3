/**
 * Compressed records a library caller hands the writer: as qemu, a stream must be shorter
 * than cluster_size - 1 bytes (qemu stores a cluster that does not compress that far as
 * data), and must not be empty; anything else is refused before a byte is written.
 */
import test from 'ava';
import { InputError } from '../../src/errors.js';
import type { ClusterRecord } from '../../src/stages/clusters.js';
import { writeQcow2 } from '../../src/stages/qcow2-writer.js';
import { collect } from '../helpers/files.js';

const CS = 512;

async function* stream(length: number): AsyncGenerator<ClusterRecord> {
  yield { kind: 'begin', clusterSize: CS, virtualSize: 4 * CS };
  yield { kind: 'compressed', index: 1, bytes: new Uint8Array(length).fill(7), algorithm: 'deflate' };
  yield { kind: 'end', virtualSize: 4 * CS };
}

test('a compressed stream of cluster_size - 2 bytes is written', async (t) => {
  const image = await collect(writeQcow2()(stream(CS - 2)));
  t.true(image.length > 0);
});

test('a compressed stream of cluster_size - 1 bytes or more, or of none, is refused', async (t) => {
  for (const length of [CS - 1, CS, 4 * CS, 0]) {
    await t.throwsAsync(collect(writeQcow2()(stream(length))), { instanceOf: InputError, message: /compressed guest cluster 1 is \d+ bytes/ }, `${length} bytes`);
  }
});
