/**
 * Benchmark inputs, built once and cached (they take a while): an ext4 image of about 1 GiB
 * made from a real directory tree, and a 1 GiB image of random, text and zero stripes.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const GiB = 2 ** 30;
const MiB = 2 ** 20;

/** The directory trees tried in turn for the ext4 image: the first that fits in 1 GiB wins. */
const EXT4_TREES = ['/usr/share', '/usr/lib/x86_64-linux-gnu', '/usr/lib', '/usr/include'];

async function duKiB(path: string): Promise<number> {
  const { stdout } = await run('du', ['-sk', path]);
  return Number(stdout.split('\t')[0]);
}

export async function ext4Image(dir: string): Promise<string> {
  const path = join(dir, 'ext4-1g.raw');
  if (existsSync(path)) return path;
  let tree: string | undefined;
  for (const candidate of EXT4_TREES) {
    if (existsSync(candidate) && (await duKiB(candidate)) * 1024 < 0.8 * GiB) {
      tree = candidate;
      break;
    }
  }
  if (!tree) throw new Error(`none of ${EXT4_TREES.join(', ')} fits in a 1 GiB ext4 image`);
  process.stderr.write(`building ${path} from ${tree} (once)...\n`);
  await run('mke2fs', ['-q', '-F', '-t', 'ext4', '-d', tree, `${path}.tmp`, '1G'], { maxBuffer: 64 * MiB });
  await rename(`${path}.tmp`, path);
  return path;
}

export async function mixedImage(dir: string): Promise<string> {
  const path = join(dir, 'mixed-1g.raw');
  if (existsSync(path)) return path;
  process.stderr.write(`building ${path} (once)...\n`);
  const file = await open(`${path}.tmp`, 'w');
  const stripe = new Uint8Array(MiB);
  let x = 88172645;
  const text = new TextEncoder().encode('Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor. ');
  for (let i = 0; i < 1024; i++) {
    const kind = i % 4;
    if (kind === 0 || kind === 3) {
      for (let j = 0; j < MiB; j++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        stripe[j] = x & 0xff;
      }
    } else if (kind === 1) {
      for (let j = 0; j < MiB; j++) stripe[j] = text[(j + i) % text.length]!;
    } else {
      stripe.fill(0);
    }
    await file.write(stripe, 0, MiB, i * MiB);
  }
  await file.close();
  await rename(`${path}.tmp`, path);
  return path;
}

/** The first MiB of the ext4 image: a conversion that is all start-up. */
export async function smallImage(dir: string, ext4: string): Promise<string> {
  const path = join(dir, 'ext4-1m.raw');
  if (existsSync(path)) return path;
  const source = await open(ext4, 'r');
  const bytes = Buffer.alloc(MiB);
  await source.read(bytes, 0, MiB, 0);
  await source.close();
  const file = await open(path, 'w');
  await file.write(bytes);
  await file.close();
  return path;
}

export async function benchDir(): Promise<string> {
  const dir = process.env.QCOW2_STREAM_BENCH_DIR ?? join(process.cwd(), '.bench');
  await mkdir(dir, { recursive: true });
  return dir;
}

export async function removeOutputs(paths: string[]): Promise<void> {
  for (const path of paths) await rm(path, { force: true });
}

/** A qcow2 image of `raw` made by qemu-img (compressed with -c), cached. */
export async function qemuQcow2(dir: string, raw: string, name: string, compressed: boolean): Promise<string> {
  const path = join(dir, `${name}${compressed ? '-c' : ''}.qcow2`);
  if (existsSync(path)) return path;
  process.stderr.write(`building ${path} with qemu-img${compressed ? ' -c' : ''} (once)...\n`);
  await run('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', ...(compressed ? ['-c'] : []), raw, `${path}.tmp`]);
  await rename(`${path}.tmp`, path);
  return path;
}
