/**
 * Numbers from the qcow2 specification (qemu docs/interop/qcow2.rst), each named once.
 */

/** "QFI\xfb" */
export const QCOW2_MAGIC = 0x514649fb;

export const HEADER_V2_LENGTH = 72;
/** The smallest version 3 header: everything up to and including header_length. */
export const HEADER_V3_MIN_LENGTH = 104;
/** What qemu writes for version 3: the compression_type byte plus 7 bytes of padding. */
export const HEADER_V3_LENGTH = 112;

/** qemu accepts cluster_bits 9 (512 B) to 21 (2 MiB). */
export const MIN_CLUSTER_BITS = 9;
export const MAX_CLUSTER_BITS = 21;

/** Extended L2 entries need at least 16 KiB clusters (32 subclusters of 512 B). */
export const MIN_EXTENDED_L2_CLUSTER_BITS = 14;

/** qemu's QCOW_MAX_L1_SIZE: the active L1 table is at most 32 MiB. */
export const MAX_L1_TABLE_BYTES = 32 * 1024 * 1024;
/** qemu's QCOW_MAX_REFTABLE_SIZE: the refcount table is at most 8 MiB. */
export const MAX_REFCOUNT_TABLE_BYTES = 8 * 1024 * 1024;
/** The backing file name is at most 1023 bytes. */
export const MAX_BACKING_FILE_NAME = 1023;

/** refcount_order 0..6: refcount widths 1 to 64 bits. Version 2 is always 4 (16 bits). */
export const MAX_REFCOUNT_ORDER = 6;
export const V2_REFCOUNT_ORDER = 4;

export const L1_ENTRY_SIZE = 8;
export const L2_ENTRY_SIZE = 8;
export const EXTENDED_L2_ENTRY_SIZE = 16;
export const REFCOUNT_TABLE_ENTRY_SIZE = 8;

/** Virtual sizes are counted in 512-byte sectors. */
export const SECTOR_SIZE = 512;

export const CRYPT_NONE = 0;
export const CRYPT_AES = 1;
export const CRYPT_LUKS = 2;

export const COMPRESSION_DEFLATE = 0;
export const COMPRESSION_ZSTD = 1;

/** incompatible_features bits */
export const INCOMPAT_DIRTY = 0;
export const INCOMPAT_CORRUPT = 1;
export const INCOMPAT_DATA_FILE = 2;
export const INCOMPAT_COMPRESSION = 3;
export const INCOMPAT_EXTENDED_L2 = 4;
/** compatible_features bits */
export const COMPAT_LAZY_REFCOUNTS = 0;
/** autoclear_features bits */
export const AUTOCLEAR_BITMAPS = 0;
export const AUTOCLEAR_DATA_FILE_RAW = 1;

/** Header extension types. */
export const EXT_END = 0x00000000;
export const EXT_BACKING_FORMAT = 0xe2792aca;
export const EXT_FEATURE_NAME_TABLE = 0x6803f857;
export const EXT_BITMAPS = 0x23852875;
export const EXT_FULL_DISK_ENCRYPTION = 0x0537be77;
export const EXT_DATA_FILE = 0x44415441;

/** Feature name table entry types. */
export const FEATURE_INCOMPATIBLE = 0;
export const FEATURE_COMPATIBLE = 1;
export const FEATURE_AUTOCLEAR = 2;
export const FEATURE_NAME_ENTRY_SIZE = 48;
export const FEATURE_NAME_MAX = 46;
