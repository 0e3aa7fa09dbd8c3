/**
 * Every cap that keeps a hostile or broken image from taking unbounded memory, disk or time,
 * in one place, with where each default comes from. Readers take `limits` (a partial set,
 * merged over the defaults) to tighten or raise them. The writer keeps qemu's own L1 and
 * refcount table caps whatever is set here: an image past them would not open in qemu.
 */
import { OptionError } from './errors.js';

export interface Limits {
  /** Bytes of the active L1 table. 32 MiB: qemu's QCOW_MAX_L1_SIZE. */
  maxL1Bytes: number;
  /** Bytes of the refcount table. 8 MiB: qemu's QCOW_MAX_REFTABLE_SIZE. */
  maxRefcountTableBytes: number;
  /**
   * Header extensions in cluster 0. 1024: qemu sets no count (only that they fit in cluster
   * 0, up to 2 MiB, so up to 262144); qemu itself writes at most a handful.
   */
  maxHeaderExtensions: number;
  /** Bytes of one header extension. 65536: qemu's largest, the feature name table, is under 1 KiB. */
  maxHeaderExtensionBytes: number;
  /** Internal snapshots. 65536: qemu's QCOW_MAX_SNAPSHOTS. */
  maxSnapshots: number;
  /** Backing images below an image. 16: qemu has no fixed cap; a deeper chain is almost surely a loop or an attack. */
  maxBackingDepth: number;
  /** Bytes a spool or reader store keeps in memory before spilling to a temp file. 64 MiB. */
  spoolMemory: number;
  /** Bytes a spool or reader store may write to its temp file. Unlimited: it grows only with bytes actually read. */
  spoolDisk: number;
  /**
   * The largest virtual size read. 2^53 - 512: every byte offset stays an exact JS number.
   * An importer of untrusted images may want far less (a raw copy of a 4 PiB disk is unbounded work).
   */
  maxVirtualSize: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxL1Bytes: 32 * 1024 * 1024,
  maxRefcountTableBytes: 8 * 1024 * 1024,
  maxHeaderExtensions: 1024,
  maxHeaderExtensionBytes: 65536,
  maxSnapshots: 65536,
  maxBackingDepth: 16,
  spoolMemory: 64 * 1024 * 1024,
  spoolDisk: Infinity,
  maxVirtualSize: 2 ** 53 - 512,
});

/** Merges `overrides` over the defaults, with one message per bad value. */
export function resolveLimits(overrides: Partial<Limits> = {}): Limits {
  const limits = { ...DEFAULT_LIMITS, ...overrides };
  for (const [name, value] of Object.entries(limits)) {
    if (typeof value !== 'number' || Number.isNaN(value) || value < 0 || (!Number.isSafeInteger(value) && value !== Infinity)) {
      throw new OptionError(`limits.${name}`, `${value} is not a byte count or a count`);
    }
  }
  return limits;
}
