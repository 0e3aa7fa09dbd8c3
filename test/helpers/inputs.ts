/** The writer's input matrix, generated in the test (never committed). */
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from './files.js';

const run = promisify(execFile);

export interface NamedInput {
  name: string;
  /** Safe in a file name, unique within the matrix. */
  slug: string;
  bytes: Uint8Array;
}

function named(name: string, bytes: Uint8Array): NamedInput {
  return { name, slug: name.replace(/\+/g, 'plus').replace(/-/g, 'minus').replace(/\W+/g, '_'), bytes };
}

/** Inputs whose shape depends on the cluster size: edges around 512 and the cluster size. */
export function edgeInputs(clusterSize: number): NamedInput[] {
  const random = randomBytes(Math.max(3 * clusterSize, 1 << 20) + 777, clusterSize);
  // Zero stretches inside the random input, so some clusters are dropped and runs split.
  random.fill(0, clusterSize, 2 * clusterSize);
  return [
    named('empty', new Uint8Array(0)),
    named('1 byte', Uint8Array.of(0x5a)),
    named('511 bytes', randomBytes(511, 1)),
    named('513 bytes', randomBytes(513, 2)),
    named('cluster size - 1', randomBytes(clusterSize - 1, 3)),
    named('cluster size + 1', randomBytes(clusterSize + 1, 4)),
    named('all zeros', new Uint8Array(Math.max(2 * clusterSize, 1 << 20))),
    named('random with a zero cluster', random),
  ];
}

/** A real ext4 filesystem holding a few files, made with mke2fs -d. */
export async function makeExt4(dir: string, sizeMiB = 16): Promise<string> {
  const tree = join(dir, 'tree');
  await mkdir(join(tree, 'etc'), { recursive: true });
  await mkdir(join(tree, 'bin'), { recursive: true });
  await writeFile(join(tree, 'etc', 'motd'), 'qcow2-stream test filesystem\n'.repeat(100));
  await writeFile(join(tree, 'bin', 'blob'), randomBytes(3 * 1024 * 1024 + 123, 99));
  for (let i = 0; i < 50; i++) await writeFile(join(tree, 'etc', `file${i}.txt`), `line ${i}\n`.repeat(i * 37 + 1));
  const image = join(dir, 'ext4.raw');
  await run('mke2fs', ['-q', '-F', '-t', 'ext4', '-E', 'root_owner=0:0', '-d', tree, image, `${sizeMiB}M`], {
    env: { ...process.env, E2FSPROGS_FAKE_TIME: '1700000000', MKE2FS_DETERMINISTIC: '1' },
  });
  return image;
}
