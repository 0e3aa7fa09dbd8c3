/**
 * Cluster arithmetic: how a virtual disk of a given size divides into clusters, L2 tables and
 * L1 entries.
 */
import { L1_ENTRY_SIZE, L2_ENTRY_SIZE, MAX_CLUSTER_BITS, MAX_L1_TABLE_BYTES, MIN_CLUSTER_BITS } from './constants.js';
import { divCeil } from './uint64.js';

/** log2 of a cluster size, or undefined when it is not a power of two from 512 B to 2 MiB. */
export function clusterBitsOf(clusterSize: number): number | undefined {
  for (let bits = MIN_CLUSTER_BITS; bits <= MAX_CLUSTER_BITS; bits++) if (2 ** bits === clusterSize) return bits;
  return undefined;
}

/** Guest clusters in a virtual disk; the last may be partly past the end. */
export function guestClusters(virtualSize: number, clusterSize: number): number {
  return divCeil(virtualSize, clusterSize);
}

/** Entries in one (standard) L2 table. */
export function l2Entries(clusterSize: number): number {
  return clusterSize / L2_ENTRY_SIZE;
}

/** Entries the L1 table needs for a virtual size. */
export function l1EntriesFor(virtualSize: number, clusterSize: number): number {
  return divCeil(virtualSize, clusterSize * l2Entries(clusterSize));
}

/** The largest virtual size a cluster size can map with a 32 MiB L1 table. */
export function maxVirtualSize(clusterSize: number): number {
  return (MAX_L1_TABLE_BYTES / L1_ENTRY_SIZE) * l2Entries(clusterSize) * clusterSize;
}
