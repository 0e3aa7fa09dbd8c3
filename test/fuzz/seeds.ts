/** Valid images made by qemu-img and qemu-io, small, for the fuzzer to mutate. */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

const SEEDS: Array<[string, string, string[]]> = [
  ['v3-64k', 'cluster_size=64k', ['write -P 1 0 64k', 'write -P 2 1M 100k', 'write -P 3 300k 4k', 'write -z 2M 64k']],
  ['v2-4k', 'compat=0.10,cluster_size=4k', ['write -P 4 4k 8k', 'write -P 5 1M 12k', 'write -P 6 40k 1k']],
  ['compressed-zlib', 'cluster_size=4k', ['write -c -P 7 0 4k', 'write -c -P 8 4k 4k', 'write -c -P 9 64k 4k', 'write -P 10 8k 4k']],
  ['compressed-zstd', 'cluster_size=4k,compression_type=zstd', ['write -c -P 11 0 4k', 'write -c -P 12 12k 4k', 'write -P 13 20k 4k']],
  ['extended-l2', 'cluster_size=16k,extended_l2=on', ['write -P 14 0 2k', 'write -P 15 17k 3k', 'write -z 40k 1k', 'write -P 16 64k 16k']],
  ['refcount1-512', 'cluster_size=512,refcount_bits=1', ['write -P 17 0 1k', 'write -P 18 10k 512', 'write -P 19 100k 2k']],
];

export async function makeSeeds(dir: string): Promise<Array<{ name: string; image: Uint8Array }>> {
  const seeds: Array<{ name: string; image: Uint8Array }> = [];
  for (const [name, options, writes] of SEEDS) {
    const path = join(dir, `seed-${name}.qcow2`);
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', options, path, '4M']);
    await run('qemu-io', ['-f', 'qcow2', ...writes.flatMap((c) => ['-c', c]), path]);
    if (name === 'v3-64k') {
      await run('qemu-img', ['snapshot', '-c', 'snap', path]);
      await run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 20 0 4k', path]);
    }
    seeds.push({ name, image: new Uint8Array(await readFile(path)) });
  }
  return seeds;
}
