/**
 * A corpus of qcow2 images made by qemu-img and qemu-io, covering the layouts and features a
 * reader meets in the wild, and helpers to damage them by patching bytes.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { prng, randomBytes } from './files.js';

const run = promisify(execFile);

async function qemuImg(...args: string[]): Promise<void> {
  await run('qemu-img', args, { maxBuffer: 16 << 20 });
}

async function qemuIo(image: string, commands: string[], format = 'qcow2'): Promise<void> {
  // One qemu-io process for many commands; -f avoids probing.
  for (let i = 0; i < commands.length; i += 200) {
    await run('qemu-io', ['-f', format, ...commands.slice(i, i + 200).flatMap((c) => ['-c', c]), image], { maxBuffer: 16 << 20 });
  }
}

export interface CorpusImage {
  name: string;
  path: string;
  /** The image names a backing file: pass this path as -B. */
  backing?: string;
  /** Warnings the reader must give (substrings). */
  warnings?: string[];
}

/** Random writes in random guest order: whole clusters, partial clusters, patterns. */
function scatteredWrites(seed: number, size: number, count: number, maxLength: number): string[] {
  const next = prng(seed);
  const commands: string[] = [];
  for (let i = 0; i < count; i++) {
    const length = 512 * (1 + (next() % (maxLength / 512)));
    const offset = 512 * (next() % ((size - length) / 512));
    commands.push(`write -P ${1 + (next() % 250)} ${offset} ${length}`);
  }
  return commands;
}

async function create(path: string, size: number | string, options: string): Promise<void> {
  await qemuImg('create', '-q', '-f', 'qcow2', ...(options ? ['-o', options] : []), path, String(size));
}

/** Patches bytes of a file in place. */
export async function patch(path: string, edit: (view: DataView, bytes: Uint8Array) => void, out = path): Promise<void> {
  const bytes = new Uint8Array(await readFile(path));
  edit(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), bytes);
  await writeFile(out, bytes);
}

/** A text-like, compressible pattern for compressed clusters. */
function compressible(length: number, seed: number): Uint8Array {
  const words = ['disk ', 'image ', 'stream ', 'qcow2 ', 'cluster ', 'sector ', 'guest ', 'host '];
  const next = prng(seed);
  const text = Array.from({ length: length / 5 }, () => words[next() % words.length]).join('');
  return new TextEncoder().encode(text.padEnd(length, '.').slice(0, length));
}

export async function buildCorpus(dir: string): Promise<CorpusImage[]> {
  const images: CorpusImage[] = [];
  const add = (name: string, extra: Omit<CorpusImage, 'name' | 'path'> = {}) => {
    const image = { name, path: join(dir, `${name}.qcow2`), ...extra };
    images.push(image);
    return image.path;
  };

  // Versions, cluster sizes and refcount widths, each written in random guest order with partial clusters.
  const layouts: Array<[string, string, number]> = [
    ['v2-64k', 'compat=0.10,cluster_size=64k', 64 << 10],
    ['v3-512', 'cluster_size=512', 512],
    ['v3-4k-refcount1', 'cluster_size=4k,refcount_bits=1', 4 << 10],
    ['v3-64k-refcount2', 'refcount_bits=2', 64 << 10],
    ['v3-64k-refcount4', 'refcount_bits=4', 64 << 10],
    ['v3-64k-refcount8', 'refcount_bits=8', 64 << 10],
    ['v3-64k-refcount32', 'refcount_bits=32', 64 << 10],
    ['v3-64k-refcount64', 'refcount_bits=64', 64 << 10],
    ['v3-2m', 'cluster_size=2M', 2 << 20],
  ];
  for (const [i, [name, options, clusterSize]] of layouts.entries()) {
    const path = add(`random-order-${name}`);
    const size = Math.max(8 << 20, 8 * clusterSize);
    await create(path, size, options);
    await qemuIo(path, scatteredWrites(100 + i, size, 60, Math.min(3 * clusterSize, 1 << 20)));
  }

  // Size not a multiple of the cluster size; the tail cluster written.
  {
    const path = add('odd-size');
    await create(path, 10 * (64 << 10) + 1536, '');
    await qemuIo(path, ['write -P 7 0 64k', `write -P 9 ${10 * (64 << 10)} 1536`]);
  }

  // Zero flag on an unallocated cluster and on a preallocated one (stale bytes underneath), and discard.
  {
    const path = add('zero-flags');
    await create(path, 4 << 20, '');
    await qemuIo(path, ['write -P 5 0 256k', 'write -z 64k 64k', 'write -z 1M 128k', 'discard 128k 64k', 'write -P 6 2M 4k', 'write -z -u 2M 64k']);
  }

  // Compressed clusters, deflate and zstd, mixed with plain ones; runs share host clusters.
  for (const type of ['zlib', 'zstd']) {
    const path = add(`compressed-${type}`);
    await create(path, 4 << 20, `compression_type=${type}`);
    const raw = join(dir, `compressible-${type}.raw`);
    await writeFile(raw, compressible(1 << 20, type.length));
    await qemuIo(path, Array.from({ length: 16 }, (_, c) => `write -c -P ${c + 1} ${c * 65536} 64k`));
    await qemuIo(path, ['write -P 3 3M 64k', 'write -z 64k 64k']);
    // And a whole image compressed by qemu-img convert -c, from text-like data.
    const converted = add(`convert-c-${type}`);
    await qemuImg('convert', '-q', '-c', '-O', 'qcow2', '-o', `compression_type=${type}`, '-f', 'raw', raw, converted);
  }

  // Extended L2 entries: subclusters allocated, zeroed and discarded piecemeal.
  {
    const path = add('extended-l2');
    await create(path, 4 << 20, 'extended_l2=on,cluster_size=64k');
    await qemuIo(path, ['write -P 1 0 4k', 'write -P 2 6k 2k', 'write -P 3 64k 64k', 'write -z 72k 4k', 'write -P 4 1M 8k', 'write -c -P 5 2M 64k', 'discard 66k 2k']);
  }

  // Internal snapshots: the active disk differs from the snapshot, L2 tables copied after their data.
  {
    const path = add('snapshots');
    await create(path, 4 << 20, '');
    await qemuIo(path, ['write -P 1 0 1M']);
    await qemuImg('snapshot', '-c', 'before', path);
    await qemuIo(path, ['write -P 2 64k 64k', 'write -P 3 2M 64k']);
    await qemuImg('snapshot', '-c', 'after', path);
    await qemuIo(path, ['write -P 4 0 4k']);
  }

  // Persistent bitmaps and lazy refcounts.
  {
    const path = add('bitmaps');
    await create(path, 4 << 20, '');
    await qemuIo(path, ['write -P 1 0 128k']);
    await qemuImg('bitmap', '--add', path, 'dirty0');
    await qemuImg('bitmap', '--add', path, 'dirty1');
    const lazy = add('lazy-refcounts');
    await create(lazy, 4 << 20, 'lazy_refcounts=on');
    await qemuIo(lazy, scatteredWrites(7, 4 << 20, 20, 128 << 10));
  }

  // Resized after writing: the L1 table moves to the end, after everything it maps.
  {
    const path = add('resized');
    await create(path, 1 << 20, 'cluster_size=4k');
    await qemuIo(path, ['write -P 1 0 512k', 'write -P 2 700k 4k']);
    await qemuImg('resize', '-q', path, '300M');
    await qemuIo(path, ['write -P 3 260M 64k', 'write -P 4 100k 4k']);
  }

  // Unknown compatible and autoclear bits, an unknown header extension: all ignorable.
  {
    const path = add('unknown-ignorable');
    await create(path, 4 << 20, '');
    await qemuIo(path, ['write -P 8 0 64k', 'write -P 9 1M 64k']);
    await patch(path, (view, bytes) => {
      view.setUint32(80 + 4, view.getUint32(84) | (1 << 9)); // compatible bit 9
      view.setUint32(88 + 4, view.getUint32(92) | (1 << 7)); // autoclear bit 7
      // Insert an unknown extension before the end marker.
      let at = view.getUint32(100);
      while (view.getUint32(at) !== 0) at += 8 + Math.ceil(view.getUint32(at + 4) / 8) * 8;
      view.setUint32(at, 0x12345678);
      view.setUint32(at + 4, 5);
      bytes.set([1, 2, 3, 4, 5], at + 8);
      view.setUint32(at + 16, 0);
      view.setUint32(at + 20, 0);
    });
  }

  // Dirty and corrupt bits: read anyway, with a warning.
  {
    const dirty = add('dirty-bit', { warnings: ['dirty'] });
    await create(dirty, 1 << 20, '');
    await qemuIo(dirty, ['write -P 1 0 64k']);
    await patch(dirty, (view) => view.setUint32(76, view.getUint32(76) | 1));
    const corrupt = add('corrupt-bit', { warnings: ['corrupt'] });
    await create(corrupt, 1 << 20, '');
    await qemuIo(corrupt, ['write -P 1 0 64k']);
    await patch(corrupt, (view) => view.setUint32(76, view.getUint32(76) | 2));
  }

  // L2 entries past the virtual size: the header says less than the tables map.
  {
    const path = add('entries-past-size');
    await create(path, 1 << 20, '');
    await qemuIo(path, ['write -P 1 0 1M']);
    await patch(path, (view) => view.setUint32(28, (1 << 20) - 65536 - 512));
  }

  // A compressed stream whose sector count reaches past the end of the file.
  {
    const path = add('compressed-past-eof');
    const raw = join(dir, 'tail.raw');
    await writeFile(raw, compressible(64 << 10, 3));
    await qemuImg('convert', '-q', '-c', '-O', 'qcow2', '-f', 'raw', raw, path);
    const bytes = new Uint8Array(await readFile(path));
    // Cut the file right after the stream's last meaningful byte, inside its last sector.
    let end = bytes.length;
    while (end > 0 && bytes[end - 1] === 0) end--;
    await writeFile(path, bytes.subarray(0, end + 1));
  }

  // Backing files: a qcow2 overlay on a qcow2 image on a raw image.
  {
    const base = join(dir, 'base.raw');
    await writeFile(base, randomBytes(2 << 20, 77));
    const middle = join(dir, 'middle.qcow2');
    await qemuImg('create', '-q', '-f', 'qcow2', '-b', 'base.raw', '-F', 'raw', middle);
    await qemuIo(middle, ['write -P 1 64k 64k', 'write -z 128k 64k']);
    const top = add('backing-chain', { backing: middle });
    await qemuImg('create', '-q', '-f', 'qcow2', '-b', 'middle.qcow2', '-F', 'qcow2', top);
    await qemuIo(top, ['write -P 2 0 4k', 'write -P 3 1M 64k']);
    const subclusters = add('backing-subclusters', { backing: base });
    await qemuImg('create', '-q', '-f', 'qcow2', '-o', 'extended_l2=on', '-b', 'base.raw', '-F', 'raw', subclusters);
    await qemuIo(subclusters, ['write -P 4 4k 4k', 'write -z 16k 2k', 'write -P 5 1M 2k']);
  }

  // Our own writer's layout, and a sparse multi-TiB disk (read back with random access and as a stream).
  {
    const path = add('sparse-8t');
    await create(path, '8T', '');
    await qemuIo(path, ['write -P 1 0 64k', `write -P 2 ${2 ** 32} 64k`, `write -P 3 ${2 ** 41} 128k`, `write -P 4 ${8 * 2 ** 40 - 65536} 64k`]);
  }
  return images;
}

export { run, qemuImg };
