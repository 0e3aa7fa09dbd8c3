/**
 * The qcow2 header at byte 0: encode, decode and validate. Field names follow the spec.
 *
 *   0 magic             4 version            8 backing_file_offset  16 backing_file_size
 *  20 cluster_bits     24 size              32 crypt_method         36 l1_size
 *  40 l1_table_offset  48 refcount_table_offset                     56 refcount_table_clusters
 *  60 nb_snapshots     64 snapshots_offset
 *  version 3 only:
 *  72 incompatible_features  80 compatible_features  88 autoclear_features
 *  96 refcount_order        100 header_length       104 compression_type (if header_length > 104)
 */
import { FormatError, LimitError, UnsupportedError } from '../errors.js';
import {
  COMPRESSION_DEFLATE,
  COMPRESSION_ZSTD,
  HEADER_V2_LENGTH,
  HEADER_V3_LENGTH,
  HEADER_V3_MIN_LENGTH,
  INCOMPAT_COMPRESSION,
  INCOMPAT_EXTENDED_L2,
  L1_ENTRY_SIZE,
  MAX_BACKING_FILE_NAME,
  MAX_CLUSTER_BITS,
  MAX_REFCOUNT_ORDER,
  MIN_CLUSTER_BITS,
  QCOW2_MAGIC,
  V2_REFCOUNT_ORDER,
} from './constants.js';
import { DEFAULT_LIMITS, type Limits } from '../limits.js';
import { readBits64, readUint64, viewOf, writeBits64, writeUint64 } from './uint64.js';

export interface Qcow2Header {
  version: 2 | 3;
  backingFileOffset: number;
  backingFileSize: number;
  clusterBits: number;
  /** Virtual disk size in bytes. */
  size: number;
  cryptMethod: number;
  /** Number of entries in the active L1 table. */
  l1Size: number;
  l1TableOffset: number;
  refcountTableOffset: number;
  refcountTableClusters: number;
  nbSnapshots: number;
  snapshotsOffset: number;
  incompatibleFeatures: bigint;
  compatibleFeatures: bigint;
  autoclearFeatures: bigint;
  /** Refcount width is 1 << refcountOrder bits. */
  refcountOrder: number;
  /** Bytes of the header structure: 72 for version 2, at least 104 for version 3. */
  headerLength: number;
  compressionType: number;
}

/** How many bytes to read before `decodeHeader` can say how long the header is. */
export const HEADER_PROBE_LENGTH = HEADER_V3_MIN_LENGTH;

export function hasMagic(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && viewOf(bytes).getUint32(0) === QCOW2_MAGIC;
}

function uint64Field(view: DataView, offset: number, field: string): number {
  const value = readUint64(view, offset);
  if (value === undefined) throw new FormatError(field, 'value is 2^53 or more, beyond any real image', offset);
  return value;
}

/**
 * Decodes and validates the header. `bytes` must hold at least the header
 * (HEADER_PROBE_LENGTH bytes suffice to learn header_length; version 2 needs 72).
 * Checks everything the header alone can say; the caller checks offsets against the input.
 */
export function decodeHeader(bytes: Uint8Array, limits: Limits = DEFAULT_LIMITS): Qcow2Header {
  if (bytes.length < 8) throw new FormatError('header', `input ends after ${bytes.length} bytes, before the qcow2 header`);
  const view = viewOf(bytes);
  if (view.getUint32(0) !== QCOW2_MAGIC) throw new FormatError('magic', 'not a qcow2 image (no QFI\\xfb magic)', 0);
  const version = view.getUint32(4);
  if (version === 1) throw new UnsupportedError('version', 'qcow version 1 images are not supported (convert them with qemu-img first)');
  if (version !== 2 && version !== 3) throw new UnsupportedError('version', `qcow2 version ${version} is not supported (only 2 and 3)`);
  const minimum = version === 2 ? HEADER_V2_LENGTH : HEADER_V3_MIN_LENGTH;
  if (bytes.length < minimum) throw new FormatError('header', `input ends after ${bytes.length} bytes, inside the ${minimum}-byte header`);

  const clusterBits = view.getUint32(20);
  if (clusterBits < MIN_CLUSTER_BITS || clusterBits > MAX_CLUSTER_BITS) {
    throw new FormatError('cluster_bits', `${clusterBits} is outside ${MIN_CLUSTER_BITS}..${MAX_CLUSTER_BITS}`, 20);
  }
  const header: Qcow2Header = {
    version,
    backingFileOffset: uint64Field(view, 8, 'backing_file_offset'),
    backingFileSize: view.getUint32(16),
    clusterBits,
    size: uint64Field(view, 24, 'size'),
    cryptMethod: view.getUint32(32),
    l1Size: view.getUint32(36),
    l1TableOffset: uint64Field(view, 40, 'l1_table_offset'),
    refcountTableOffset: uint64Field(view, 48, 'refcount_table_offset'),
    refcountTableClusters: view.getUint32(56),
    nbSnapshots: view.getUint32(60),
    snapshotsOffset: uint64Field(view, 64, 'snapshots_offset'),
    incompatibleFeatures: 0n,
    compatibleFeatures: 0n,
    autoclearFeatures: 0n,
    refcountOrder: V2_REFCOUNT_ORDER,
    headerLength: HEADER_V2_LENGTH,
    compressionType: COMPRESSION_DEFLATE,
  };
  if (version === 3) {
    header.incompatibleFeatures = readBits64(view, 72);
    header.compatibleFeatures = readBits64(view, 80);
    header.autoclearFeatures = readBits64(view, 88);
    header.refcountOrder = view.getUint32(96);
    header.headerLength = view.getUint32(100);
    if (header.headerLength < HEADER_V3_MIN_LENGTH || header.headerLength % 8 !== 0) {
      throw new FormatError('header_length', `${header.headerLength} is not a multiple of 8 of at least ${HEADER_V3_MIN_LENGTH}`, 100);
    }
    if (header.headerLength > 2 ** clusterBits) {
      throw new FormatError('header_length', `${header.headerLength} is larger than the ${2 ** clusterBits}-byte cluster`, 100);
    }
    if (header.headerLength > HEADER_V3_MIN_LENGTH) {
      if (bytes.length < HEADER_V3_MIN_LENGTH + 1) throw new FormatError('header', 'input ends inside the header');
      header.compressionType = view.getUint8(104);
    }
  }
  validateHeader(header, limits);
  return header;
}

/** Checks the relations between header fields; throws a FormatError naming the first bad one. */
export function validateHeader(header: Qcow2Header, limits: Limits = DEFAULT_LIMITS): void {
  const clusterSize = 2 ** header.clusterBits;
  if (header.refcountOrder > MAX_REFCOUNT_ORDER) {
    throw new FormatError('refcount_order', `${header.refcountOrder} is outside 0..${MAX_REFCOUNT_ORDER}`, 96);
  }
  if (header.version === 2 && header.refcountOrder !== V2_REFCOUNT_ORDER) {
    throw new FormatError('refcount_order', 'version 2 images always have 16-bit refcounts');
  }
  const compressionBit = (header.incompatibleFeatures >> BigInt(INCOMPAT_COMPRESSION)) & 1n;
  if (header.compressionType !== COMPRESSION_DEFLATE && header.compressionType !== COMPRESSION_ZSTD) {
    throw new UnsupportedError('compression_type', `compression type ${header.compressionType} is not supported (0 deflate, 1 zstd)`);
  }
  if ((header.compressionType !== COMPRESSION_DEFLATE) !== (compressionBit === 1n)) {
    throw new FormatError('compression_type', 'compression type and incompatible bit 3 disagree', 104);
  }
  for (const [field, value, at] of [
    ['l1_table_offset', header.l1TableOffset, 40],
    ['refcount_table_offset', header.refcountTableOffset, 48],
    ['snapshots_offset', header.snapshotsOffset, 64],
  ] as const) {
    if (value % clusterSize !== 0) throw new FormatError(field, `${value} is not aligned to the ${clusterSize}-byte cluster`, at);
  }
  if (header.l1Size * L1_ENTRY_SIZE > limits.maxL1Bytes) {
    throw new LimitError('l1_size', `l1_size: ${header.l1Size} entries make an L1 table over ${mib(limits.maxL1Bytes)}`);
  }
  if (header.size > limits.maxVirtualSize) {
    throw new LimitError('size', `size: the ${header.size}-byte virtual disk is over the ${limits.maxVirtualSize}-byte limit`);
  }
  const needed = l1EntriesFor(header.size, header.clusterBits, l2EntryBitsFor(header));
  if (header.l1Size < needed) {
    throw new FormatError('l1_size', `${header.l1Size} entries cannot map the ${header.size}-byte virtual size (needs ${needed})`, 36);
  }
  if (header.refcountTableClusters * clusterSize > limits.maxRefcountTableBytes) {
    throw new LimitError('refcount_table_clusters', `refcount_table_clusters: ${header.refcountTableClusters} clusters make a refcount table over ${mib(limits.maxRefcountTableBytes)}`);
  }
  if (header.refcountTableClusters === 0) throw new FormatError('refcount_table_clusters', 'is 0', 56);
  if (header.nbSnapshots > limits.maxSnapshots) {
    throw new LimitError('nb_snapshots', `nb_snapshots: ${header.nbSnapshots} snapshots make a snapshot table too large (at most ${limits.maxSnapshots})`);
  }
  if (header.backingFileOffset !== 0) {
    if (header.backingFileSize > MAX_BACKING_FILE_NAME) {
      throw new FormatError('backing_file_size', `${header.backingFileSize} is over ${MAX_BACKING_FILE_NAME} bytes`, 16);
    }
    if (header.backingFileOffset + header.backingFileSize > clusterSize) {
      throw new FormatError('backing_file_offset', 'the backing file name does not lie inside the first cluster', 8);
    }
  }
}

function mib(bytes: number): string {
  return `${bytes / 1048576} MiB`;
}

/** log2 of the number of L2 entries per table: 8-byte entries, or 16-byte with extended L2. */
function l2EntryBitsFor(header: Qcow2Header): number {
  const extendedL2 = ((header.incompatibleFeatures >> BigInt(INCOMPAT_EXTENDED_L2)) & 1n) === 1n;
  return header.clusterBits - (extendedL2 ? 4 : 3);
}

/** Entries an L1 table needs to map `size` bytes. */
export function l1EntriesFor(size: number, clusterBits: number, l2Bits: number): number {
  const bytesPerL1Entry = 2 ** (clusterBits + l2Bits);
  return Math.ceil(size / bytesPerL1Entry);
}

/** Encodes the header structure (72 bytes for version 2, headerLength bytes for version 3). */
export function encodeHeader(header: Qcow2Header): Uint8Array {
  const length = header.version === 2 ? HEADER_V2_LENGTH : header.headerLength;
  const bytes = new Uint8Array(length);
  const view = viewOf(bytes);
  view.setUint32(0, QCOW2_MAGIC);
  view.setUint32(4, header.version);
  writeUint64(view, 8, header.backingFileOffset);
  view.setUint32(16, header.backingFileSize);
  view.setUint32(20, header.clusterBits);
  writeUint64(view, 24, header.size);
  view.setUint32(32, header.cryptMethod);
  view.setUint32(36, header.l1Size);
  writeUint64(view, 40, header.l1TableOffset);
  writeUint64(view, 48, header.refcountTableOffset);
  view.setUint32(56, header.refcountTableClusters);
  view.setUint32(60, header.nbSnapshots);
  writeUint64(view, 64, header.snapshotsOffset);
  if (header.version === 3) {
    writeBits64(view, 72, header.incompatibleFeatures);
    writeBits64(view, 80, header.compatibleFeatures);
    writeBits64(view, 88, header.autoclearFeatures);
    view.setUint32(96, header.refcountOrder);
    view.setUint32(100, header.headerLength);
    if (header.headerLength > HEADER_V3_MIN_LENGTH) view.setUint8(104, header.compressionType);
  }
  return bytes;
}

/** The header fields of a fresh image with no backing file, snapshots or features. */
export function newHeader(fields: {
  version: 2 | 3;
  clusterBits: number;
  size: number;
  refcountOrder: number;
  l1Size: number;
  l1TableOffset: number;
  refcountTableOffset: number;
  refcountTableClusters: number;
  compressionType?: number;
}): Qcow2Header {
  const compressionType = fields.compressionType ?? COMPRESSION_DEFLATE;
  return {
    version: fields.version,
    backingFileOffset: 0,
    backingFileSize: 0,
    clusterBits: fields.clusterBits,
    size: fields.size,
    cryptMethod: 0,
    l1Size: fields.l1Size,
    l1TableOffset: fields.l1TableOffset,
    refcountTableOffset: fields.refcountTableOffset,
    refcountTableClusters: fields.refcountTableClusters,
    nbSnapshots: 0,
    snapshotsOffset: 0,
    incompatibleFeatures: compressionType === COMPRESSION_DEFLATE ? 0n : 1n << BigInt(INCOMPAT_COMPRESSION),
    compatibleFeatures: 0n,
    autoclearFeatures: 0n,
    refcountOrder: fields.refcountOrder,
    headerLength: fields.version === 2 ? HEADER_V2_LENGTH : HEADER_V3_LENGTH,
    compressionType,
  };
}
