/**
 * Everything cluster 0 says about an image: the header, its extensions and the backing file
 * name, checked once, up front. Images that need something this library does not do are
 * refused here, by name, before any data is read.
 */
import { FormatError, UnsupportedError } from '../errors.js';
import { DEFAULT_LIMITS, type Limits } from '../limits.js';
import {
  CRYPT_AES,
  CRYPT_LUKS,
  CRYPT_NONE,
  EXT_BACKING_FORMAT,
  EXT_BITMAPS,
  EXT_DATA_FILE,
  EXT_FEATURE_NAME_TABLE,
  EXT_FULL_DISK_ENCRYPTION,
  FEATURE_INCOMPATIBLE,
  INCOMPAT_COMPRESSION,
  INCOMPAT_CORRUPT,
  INCOMPAT_DATA_FILE,
  INCOMPAT_DIRTY,
  INCOMPAT_EXTENDED_L2,
  MIN_EXTENDED_L2_CLUSTER_BITS,
  COMPAT_LAZY_REFCOUNTS,
  AUTOCLEAR_DATA_FILE_RAW,
  SECTOR_SIZE,
} from './constants.js';
import { decodeHeader, type Qcow2Header } from './header.js';
import { decodeExtensions, decodeFeatureNameTable, decodeText, type FeatureName } from './header-extensions.js';

export interface ImageHead {
  header: Qcow2Header;
  /** The size a reader gives: header.size rounded down to whole 512-byte sectors, as qemu does. */
  virtualSize: number;
  clusterSize: number;
  /** 128-bit L2 entries with 32 subclusters each. */
  extendedL2: boolean;
  /** 'deflate' or 'zstd', for compressed clusters. */
  compression: 'deflate' | 'zstd';
  backingFile: string | undefined;
  backingFormat: string | undefined;
  featureNames: FeatureName[];
  lazyRefcounts: boolean;
  hasBitmaps: boolean;
  dirty: boolean;
  corrupt: boolean;
  /** Types of header extensions this library does not know (they are ignored). */
  unknownExtensions: number[];
  /** 'aes' or 'luks' when the image is encrypted. */
  encryption: 'aes' | 'luks' | 'unknown' | undefined;
  /** The image keeps its data in another file. */
  externalDataFile: boolean;
  /** Names of incompatible features set that this library does not know. */
  unknownIncompatibleFeatures: string[];
  /** Things a user should know that do not stop reading: the dirty and corrupt bits. */
  warnings: string[];
}

const KNOWN_INCOMPATIBLE = (1n << 5n) - 1n;

function bit(value: bigint, n: number): boolean {
  return ((value >> BigInt(n)) & 1n) === 1n;
}

function featureName(names: FeatureName[], type: number, n: number): string {
  return names.find((f) => f.type === type && f.bit === n)?.name ?? `bit ${n}`;
}

/**
 * Parses cluster 0 (or as much of it as the input has; the header, extensions and backing
 * file name must lie inside it). Damage throws; features this library cannot read are
 * recorded, and `assertReadable` refuses them.
 */
export function parseImageHead(cluster0: Uint8Array, limits: Limits = DEFAULT_LIMITS): ImageHead {
  const header = decodeHeader(cluster0, limits);
  const clusterSize = 2 ** header.clusterBits;
  const extensionsEnd = Math.min(header.backingFileOffset !== 0 ? header.backingFileOffset : clusterSize, clusterSize);
  const extensions = header.headerLength < extensionsEnd ? decodeExtensions(cluster0, header.headerLength, Math.min(extensionsEnd, cluster0.length), limits) : [];

  const head: ImageHead = {
    header,
    virtualSize: Math.floor(header.size / SECTOR_SIZE) * SECTOR_SIZE,
    clusterSize,
    extendedL2: header.version === 3 && bit(header.incompatibleFeatures, INCOMPAT_EXTENDED_L2),
    compression: header.compressionType === 1 ? 'zstd' : 'deflate',
    backingFile: undefined,
    backingFormat: undefined,
    featureNames: [],
    lazyRefcounts: bit(header.compatibleFeatures, COMPAT_LAZY_REFCOUNTS),
    hasBitmaps: false,
    dirty: header.version === 3 && bit(header.incompatibleFeatures, INCOMPAT_DIRTY),
    corrupt: header.version === 3 && bit(header.incompatibleFeatures, INCOMPAT_CORRUPT),
    unknownExtensions: [],
    encryption: header.cryptMethod === CRYPT_NONE ? undefined : header.cryptMethod === CRYPT_AES ? 'aes' : header.cryptMethod === CRYPT_LUKS ? 'luks' : 'unknown',
    externalDataFile: bit(header.incompatibleFeatures, INCOMPAT_DATA_FILE),
    unknownIncompatibleFeatures: [],
    warnings: [],
  };


  for (const extension of extensions) {
    switch (extension.type) {
      case EXT_FEATURE_NAME_TABLE:
        head.featureNames = decodeFeatureNameTable(extension.data);
        break;
      case EXT_BACKING_FORMAT:
        head.backingFormat = decodeText(extension.data);
        break;
      case EXT_BITMAPS:
        head.hasBitmaps = true;
        break;
      case EXT_DATA_FILE:
        head.externalDataFile = true;
        break;
      case EXT_FULL_DISK_ENCRYPTION:
        head.encryption ??= 'unknown';
        break;
      default:
        head.unknownExtensions.push(extension.type);
    }
  }

  if (header.backingFileOffset !== 0 && header.backingFileSize > 0) {
    const end = header.backingFileOffset + header.backingFileSize;
    if (end > cluster0.length) throw new FormatError('backing_file_offset', `the backing file name ends at byte ${end}, past the input`, 8);
    head.backingFile = decodeText(cluster0.subarray(header.backingFileOffset, end));
  }

  const unknown = header.incompatibleFeatures & ~KNOWN_INCOMPATIBLE;
  for (let n = 0; n < 64; n++) if (bit(unknown, n)) head.unknownIncompatibleFeatures.push(featureName(head.featureNames, FEATURE_INCOMPATIBLE, n));
  if (bit(header.autoclearFeatures, AUTOCLEAR_DATA_FILE_RAW) && !head.externalDataFile) {
    throw new FormatError('autoclear_features', 'the raw external data bit is set but the image has no external data file', 88);
  }
  if (head.extendedL2 && header.clusterBits < MIN_EXTENDED_L2_CLUSTER_BITS) {
    throw new FormatError('cluster_bits', `extended L2 entries need clusters of at least 16 KiB, not ${clusterSize} bytes`, 20);
  }
  if (bit(header.incompatibleFeatures, INCOMPAT_COMPRESSION) !== (header.compressionType !== 0)) {
    throw new FormatError('compression_type', 'compression type and incompatible bit 3 disagree', 104);
  }
  if (head.dirty) head.warnings.push('the image is marked dirty (it was not closed cleanly); reading its mappings as they are');
  if (head.corrupt) head.warnings.push('the image is marked corrupt; reading it anyway, check the result');
  return head;
}

/** Refuses, by name, an image whose data this library cannot read. */
export function assertReadable(head: ImageHead): void {
  if (head.encryption === 'aes') throw new UnsupportedError('encryption', 'AES-encrypted qcow2 images are not supported');
  if (head.encryption === 'luks') throw new UnsupportedError('encryption', 'LUKS-encrypted qcow2 images are not supported');
  if (head.encryption) throw new UnsupportedError('encryption', 'encrypted qcow2 images are not supported');
  if (head.externalDataFile) {
    throw new UnsupportedError('external data file', 'images with an external data file are not supported (the data lives in another file, which an image could point anywhere)');
  }
  if (head.unknownIncompatibleFeatures.length > 0) {
    throw new UnsupportedError('incompatible features', `the image uses incompatible features this reader does not know: ${head.unknownIncompatibleFeatures.join(', ')}`);
  }
}
