/** The `-o key=value,...` list, with qemu-img's option names. */
import { OptionError } from '../errors.js';
import { DEFAULT_CLUSTER_SIZE } from '../node/raw-to-qcow2.js';
import { DEFAULT_COMPAT, DEFAULT_REFCOUNT_BITS, versionOf, type Compat } from '../stages/qcow2-writer.js';
import { parseSize } from './sizes.js';

export interface CreateOptions {
  compat: Compat;
  clusterSize: number;
  refcountBits: number;
  /** `-o size=...`, the same as --size. */
  size?: number;
  /** `-o compression_level=N`, deflate level 1..9 for -c. */
  compressionLevel?: number;
}

export const CREATE_OPTION_HELP = `  compat=1.1|0.10        qcow2 version 3 (default) or version 2 for old consumers
  cluster_size=SIZE      512 to 2M, a power of two (default 64k)
  refcount_bits=N        1, 2, 4, 8, 16 (default), 32 or 64; 16 only with compat=0.10
  size=SIZE              virtual size (same as --size)
  compression_type=zlib  deflate, the only type written (zstd images are read)
  compression_level=N    deflate level 1..9 for -c (default 6, as qemu)`;

export function parseCreateOptions(lists: readonly string[]): CreateOptions {
  const options: CreateOptions = { compat: DEFAULT_COMPAT, clusterSize: DEFAULT_CLUSTER_SIZE, refcountBits: DEFAULT_REFCOUNT_BITS };
  for (const list of lists) {
    for (const item of list.split(',')) {
      if (item === '') continue;
      const eq = item.indexOf('=');
      const key = eq < 0 ? item : item.slice(0, eq);
      const value = eq < 0 ? '' : item.slice(eq + 1);
      if (eq < 0 || value === '') throw new OptionError(`-o ${key}`, 'needs a value (key=value)');
      switch (key) {
        case 'compat':
          versionOf(value);
          options.compat = value as Compat;
          break;
        case 'cluster_size':
          options.clusterSize = parseSize(value, '-o cluster_size');
          break;
        case 'refcount_bits': {
          const bits = Number(value);
          if (!/^\d+$/.test(value)) throw new OptionError('-o refcount_bits', `'${value}' is not a number`);
          options.refcountBits = bits;
          break;
        }
        case 'size':
          options.size = parseSize(value, '-o size');
          break;
        case 'compression_type':
          if (value !== 'zlib' && value !== 'deflate') throw new OptionError('-o compression_type', `'${value}' cannot be written (only zlib; zstd images can be read)`);
          break;
        case 'compression_level': {
          const level = Number(value);
          if (!/^\d+$/.test(value) || level < 1 || level > 9) throw new OptionError('-o compression_level', `'${value}' is not a level from 1 to 9`);
          options.compressionLevel = level;
          break;
        }
        default:
          throw new OptionError(`-o ${key}`, 'unknown option (known: compat, cluster_size, refcount_bits, size, compression_type, compression_level)');
      }
    }
  }
  return options;
}
