/**
 * Mutations of valid qcow2 images: header fields, extension lengths, L1, L2 and refcount table
 * entries, compressed descriptors, truncation, stray bytes. Deterministic for a seed, and
 * each mutation says what it did, so a failure can be read and reproduced.
 */
import { prng } from '../helpers/files.js';

export interface Structure {
  clusterSize: number;
  headerLength: number;
  l1Offset: number;
  l1Size: number;
  l2Offsets: number[];
  refcountTableOffset: number;
}

/** Locates the structures of a valid image (offsets below 2^32 in our small seeds). */
export function structureOf(image: Uint8Array): Structure {
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const clusterSize = 2 ** view.getUint32(20);
  const version = view.getUint32(4);
  const l1Offset = view.getUint32(44);
  const l1Size = view.getUint32(36);
  const l2Offsets: number[] = [];
  for (let i = 0; i < l1Size; i++) {
    const offset = (view.getUint32(l1Offset + i * 8 + 4) & 0xfffffe00) >>> 0;
    if (offset !== 0 && offset + clusterSize <= image.length) l2Offsets.push(offset);
  }
  return { clusterSize, headerLength: version === 3 ? view.getUint32(100) : 72, l1Offset, l1Size, l2Offsets, refcountTableOffset: view.getUint32(52) };
}

type Random = () => number;

/** Header fields: [offset, width in bytes, name]. */
const HEADER_FIELDS: Array<[number, 4 | 8, string]> = [
  [4, 4, 'version'], [8, 8, 'backing_file_offset'], [16, 4, 'backing_file_size'], [20, 4, 'cluster_bits'], [24, 8, 'size'],
  [32, 4, 'crypt_method'], [36, 4, 'l1_size'], [40, 8, 'l1_table_offset'], [48, 8, 'refcount_table_offset'],
  [56, 4, 'refcount_table_clusters'], [60, 4, 'nb_snapshots'], [64, 8, 'snapshots_offset'], [72, 8, 'incompatible_features'],
  [80, 8, 'compatible_features'], [88, 8, 'autoclear_features'], [96, 4, 'refcount_order'], [100, 4, 'header_length'],
];

function interesting(random: Random, original: number, clusterSize: number): number {
  switch (random() % 10) {
    case 0: return 0;
    case 1: return 1;
    case 2: return original + clusterSize;
    case 3: return Math.max(0, original - clusterSize);
    case 4: return original + 512;
    case 5: return 0xffffffff;
    case 6: return 2 ** 32 + (random() % 2 ** 20) * clusterSize;
    case 7: return original ^ (2 ** (random() % 31));
    case 8: return (random() % 64) * clusterSize;
    default: return random();
  }
}

function set64(view: DataView, at: number, value: number): void {
  view.setUint32(at, Math.floor(value / 2 ** 32) >>> 0);
  view.setUint32(at + 4, value % 2 ** 32 >>> 0);
}

export function mutate(seedImage: Uint8Array, seed: number): { image: Uint8Array; description: string } {
  const random = prng(seed);
  let image = seedImage.slice();
  const view = () => new DataView(image.buffer, image.byteOffset, image.byteLength);
  const s = structureOf(seedImage);
  const done: string[] = [];
  const count = 1 + (random() % 3);
  for (let m = 0; m < count; m++) {
    const kind = random() % 10;
    if (kind === 0 || kind === 1) {
      const [at, width, name] = HEADER_FIELDS[random() % HEADER_FIELDS.length]!;
      if ((at >= 72 && s.headerLength === 72) || at + width > image.length) continue;
      const original = width === 4 ? view().getUint32(at) : view().getUint32(at + 4);
      const value = interesting(random, original, s.clusterSize);
      if (width === 4) view().setUint32(at, value >>> 0);
      else set64(view(), at, value);
      done.push(`header ${name} = ${value}`);
    } else if (kind === 2) {
      if (image.length === 0) continue;
      const at = random() % Math.min(image.length, s.headerLength + 512);
      image[at] = image[at]! ^ (1 << (random() % 8));
      done.push(`flip a bit of byte ${at}`);
    } else if (kind === 3) {
      // An extension header: its length or type.
      const at = s.headerLength + 8 * (random() % 8);
      if (at + 8 > image.length) continue;
      const value = interesting(random, view().getUint32(at + 4), s.clusterSize);
      view().setUint32(at + 4 * (random() % 2), value >>> 0);
      done.push(`extension word at ${at} = ${value}`);
    } else if (kind === 4 && s.l1Size > 0) {
      const i = random() % s.l1Size;
      const at = s.l1Offset + 8 * i;
      if (at + 8 > image.length) continue;
      const original = view().getUint32(at + 4);
      const value = random() % 3 === 0 ? random() : interesting(random, original, s.clusterSize);
      if (random() % 2) view().setUint32(at + 4, value >>> 0);
      else view().setUint32(at, value >>> 0);
      done.push(`L1 entry ${i} word = ${value}`);
    } else if ((kind === 5 || kind === 6) && s.l2Offsets.length > 0) {
      const table = s.l2Offsets[random() % s.l2Offsets.length]!;
      const i = random() % (s.clusterSize / 8);
      const at = table + 8 * i;
      if (at + 8 > image.length) continue;
      const hi = view().getUint32(at);
      const lo = view().getUint32(at + 4);
      switch (random() % 6) {
        case 0: view().setUint32(at + 4, interesting(random, lo, s.clusterSize) >>> 0); break;
        case 1: view().setUint32(at, (hi ^ 0x40000000) >>> 0); break; // toggle compressed
        case 2: view().setUint32(at, ((hi & 0xc0000000) | (random() & 0x3fffffff)) >>> 0); break; // sectors / high offset
        case 3: view().setUint32(at + 4, (lo | 1) >>> 0); break; // zero flag
        case 4: view().setUint32(at, random() >>> 0); break;
        default: view().setUint32(at + 4, random() >>> 0);
      }
      done.push(`L2 entry ${i} of table at ${table} changed`);
    } else if (kind === 7) {
      const i = random() % 16;
      const at = s.refcountTableOffset + 8 * i;
      if (at + 8 > image.length) continue;
      view().setUint32(at + 4 * (random() % 2), interesting(random, view().getUint32(at + 4), s.clusterSize) >>> 0);
      done.push(`refcount table entry ${i} changed`);
    } else if (kind === 8) {
      const cut = random() % 3 === 0 ? Math.floor((random() % image.length) / 512) * 512 : random() % image.length;
      image = image.subarray(0, cut).slice();
      done.push(`truncated to ${cut} bytes`);
    } else if (image.length > 0) {
      const at = random() % image.length;
      image[at] = random() & 0xff;
      done.push(`byte ${at} = ${image[at]}`);
    }
  }
  return { image, description: done.join('; ') || 'unchanged' };
}
