/**
 * Turns one guest cluster's mapping, and the host bytes it points at, into cluster records:
 * the part of a reader that both the streaming and the random-access reader share.
 * Backing images fill what is absent; zeros are simply not emitted; bytes past the virtual
 * size are zeroed so no stale host bytes travel on.
 */
import type { ClusterMapping } from '../format/cluster-mapping.js';
import { SUBCLUSTERS } from '../format/cluster-mapping.js';
import type { CompressedCluster, CompressionAlgorithm, DataClusters } from './clusters.js';
import type { GuestImage } from './guest-image.js';
import { copyBytes } from './bytes.js';
import { isAllZero } from './zero-detect.js';

export interface GuestContext {
  clusterSize: number;
  virtualSize: number;
  algorithm: CompressionAlgorithm;
  backing: GuestImage | undefined;
}

/** Guest bytes of cluster `guest` from the backing image, or undefined for zeros. */
async function backingCluster(context: GuestContext, guest: number): Promise<Uint8Array | undefined> {
  if (!context.backing) return undefined;
  const start = guest * context.clusterSize;
  const length = Math.min(context.clusterSize, context.virtualSize - start);
  const bytes = await context.backing.read(start, length);
  if (!bytes) return undefined;
  if (bytes.length === context.clusterSize) return bytes;
  const padded = new Uint8Array(context.clusterSize);
  padded.set(bytes);
  return padded;
}

function zeroPastEnd(bytes: Uint8Array, guest: number, context: GuestContext): void {
  const end = context.virtualSize - guest * context.clusterSize;
  if (end < bytes.length) bytes.fill(0, end);
}

/** Whether the mapping needs the host cluster's bytes. */
export function needsHostBytes(mapping: ClusterMapping): boolean {
  return (mapping.kind === 'data' && mapping.allocated !== 0) || mapping.kind === 'compressed';
}

/**
 * Records for guest cluster `guest`. `host` is the host cluster (data) or stream (compressed)
 * when needsHostBytes(mapping); a data cluster's bytes may be a view into a larger buffer.
 * The record's bytes are `host` itself or memory of their own: a caller holding a reference to
 * `host` hands it on with the record in the first case, and releases it otherwise.
 */
export async function recordFor(mapping: ClusterMapping, guest: number, host: Uint8Array | undefined, context: GuestContext): Promise<DataClusters | CompressedCluster | undefined> {
  switch (mapping.kind) {
    case 'zero':
      return undefined;
    case 'absent': {
      const bytes = await backingCluster(context, guest);
      return bytes && !isAllZero(bytes) ? { kind: 'data', index: guest, bytes } : undefined;
    }
    case 'compressed':
      return { kind: 'compressed', index: guest, bytes: host!, algorithm: context.algorithm };
    case 'data': {
      let bytes: Uint8Array;
      if (mapping.allocated === undefined) {
        bytes = host!;
      } else {
        // Extended L2: subcluster by subcluster, from the host cluster, zeros or the backing image.
        bytes = new Uint8Array(context.clusterSize);
        const size = context.clusterSize / SUBCLUSTERS;
        const allocated = mapping.allocated;
        const zero = mapping.zero ?? 0;
        let fromBacking: Uint8Array | undefined;
        let backingRead = false;
        for (let i = 0; i < SUBCLUSTERS; i++) {
          const mask = 2 ** i;
          const range = [i * size, (i + 1) * size] as const;
          if (Math.floor(allocated / mask) % 2 === 1) bytes.set(host!.subarray(...range), range[0]);
          else if (Math.floor(zero / mask) % 2 === 0) {
            if (!backingRead) {
              fromBacking = await backingCluster(context, guest);
              backingRead = true;
            }
            if (fromBacking) bytes.set(fromBacking.subarray(...range), range[0]);
          }
        }
      }
      if ((guest + 1) * context.clusterSize > context.virtualSize) {
        if (bytes === host) bytes = copyBytes(bytes);
        zeroPastEnd(bytes, guest, context);
      }
      return isAllZero(bytes) ? undefined : { kind: 'data', index: guest, bytes };
    }
  }
}
