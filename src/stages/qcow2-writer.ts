/**
 * The qcow2 writer stage: guest clusters in, the bytes of a qcow2 image out, strictly in
 * order, never seeking. It needs the allocation map before byte 0:
 *
 * - when the stream's `begin` record carries one (a seekable source that scanned first), it
 *   plans at once and streams the data through;
 * - otherwise it spools the payload, builds the map as clusters pass, plans at the end and
 *   emits from the spool.
 *
 * Both ways go through the same planner and data emitter, so they give identical bytes.
 * Ownership (see buffer-pool.ts): a record's bytes go out with its reference, or are copied
 * into the spool and released.
 */
import { InputError, OptionError } from '../errors.js';
import { AllocationMap, RUN_COMPRESSED, RUN_DATA } from '../format/allocation-map.js';
import { guestClusters, l2Entries } from '../format/geometry.js';
import { planLayout, validateImageOptions, type ImageOptions, type Qcow2Layout } from '../format/layout.js';
import { encodeMetadata } from '../format/metadata.js';
import type { ClusterRecord, CompressedCluster, DataClusters, StreamBegin } from './clusters.js';
import { release } from './buffer-pool.js';
import { coalesce } from './coalesce.js';
import { emitDataRegion } from './data-region.js';
import { MemorySpool, type SpoolFactory } from './spool.js';

/** qemu's spellings: '0.10' or 'v2' for version 2, '1.1' or 'v3' for version 3. */
export type Compat = '0.10' | 'v2' | '1.1' | 'v3';

export interface Qcow2WriterOptions {
  /** '1.1' (qcow2 version 3, the default) or '0.10' (version 2, for old consumers). */
  compat?: Compat;
  /** Refcount width in bits; default 16. Version 3 takes 1, 2, 4, 8, 16, 32 or 64. */
  refcountBits?: number;
  /** Where payload waits when the map is not known up front. Default: memory, unbounded. */
  spool?: SpoolFactory;
  /** Called with the plan (its `totalLength` is the exact output length) before the first byte. */
  onPlan?: (layout: Qcow2Layout) => void;
}

export const DEFAULT_COMPAT: Compat = '1.1';
export const DEFAULT_REFCOUNT_BITS = 16;
/** Metadata is emitted in chunks of about this size. */
export const METADATA_CHUNK = 1024 * 1024;

export function versionOf(compat: string | undefined): 2 | 3 {
  const value = compat ?? DEFAULT_COMPAT;
  if (value === '0.10' || value === 'v2') return 2;
  if (value === '1.1' || value === 'v3') return 3;
  throw new OptionError('compat', `'${value}' is not 0.10 or 1.1`);
}

/** Resolves writer options against a stream's cluster size, with one message per mistake. */
export function imageOptionsFor(options: Qcow2WriterOptions, clusterSize: number): ImageOptions {
  const imageOptions: ImageOptions = {
    version: versionOf(options.compat),
    clusterSize,
    refcountBits: options.refcountBits ?? DEFAULT_REFCOUNT_BITS,
  };
  validateImageOptions(imageOptions);
  return imageOptions;
}

export async function openingRecord(records: AsyncIterator<ClusterRecord>): Promise<StreamBegin> {
  const first = await records.next();
  if (first.done || first.value.kind !== 'begin') throw new InputError('a cluster stream must open with a begin record');
  return first.value;
}

function clustersIn(bytes: Uint8Array, clusterSize: number, index: number): number {
  if (bytes.length === 0 || bytes.length % clusterSize !== 0) {
    throw new InputError(`data record at guest cluster ${index} is ${bytes.length} bytes, not a whole number of ${clusterSize}-byte clusters`);
  }
  return bytes.length / clusterSize;
}

/**
 * The payload of a stream whose begin record promised `map`: checks that each record is the
 * next one the map lists, and that the stream ends where and how it promised.
 */
async function* promisedPayload(records: AsyncIterator<ClusterRecord>, begin: StreamBegin, map: AllocationMap): AsyncGenerator<Uint8Array> {
  const runs = map.runs();
  let run = runs.next();
  let used = 0;
  const mismatch = (what: string): InputError =>
    new InputError(`the source does not match its allocation map (${what}); did it change while being read?`);
  for (;;) {
    const step = await records.next();
    if (step.done) throw new InputError('cluster stream ended without an end record');
    const record = step.value;
    if (record.kind === 'end') {
      if (!run.done) throw mismatch(`clusters from ${run.value.start + used} never came`);
      if (record.virtualSize !== begin.virtualSize) throw mismatch('virtual size changed');
      return;
    }
    if (record.kind === 'zero') continue;
    if (record.kind === 'begin') throw new InputError('a cluster stream has two begin records');
    if (run.done) throw mismatch(`guest cluster ${record.index} is not in it`);
    const count = record.kind === 'data' ? clustersIn(record.bytes, begin.clusterSize, record.index) : 1;
    const expectedKind = record.kind === 'data' ? RUN_DATA : RUN_COMPRESSED;
    if (record.index !== run.value.start + used || run.value.kind !== expectedKind || used + count > run.value.count) {
      throw mismatch(`unexpected ${record.kind} record at guest cluster ${record.index}`);
    }
    if (record.kind === 'compressed' && record.bytes.length !== map.compressedLength(run.value.lengthsAt + used)) {
      throw mismatch(`compressed length of guest cluster ${record.index} changed`);
    }
    used += count;
    if (used === run.value.count) {
      run = runs.next();
      used = 0;
    }
    yield record.bytes;
  }
}

/**
 * The data and compressed records of a stream whose map is not known up front, checked
 * (ascending, inside the virtual size, whole clusters) and added to `map` as they pass.
 * Returns the virtual size the end record gives.
 */
export async function* mappedPayload(records: AsyncIterator<ClusterRecord>, begin: StreamBegin, map: AllocationMap): AsyncGenerator<DataClusters | CompressedCluster, number> {
  for (;;) {
    const step = await records.next();
    if (step.done) throw new InputError('cluster stream ended without an end record');
    const record = step.value;
    if (record.kind === 'end') {
      if (map.endCluster > guestClusters(record.virtualSize, begin.clusterSize)) {
        throw new InputError(`guest cluster ${map.endCluster - 1} lies past the ${record.virtualSize}-byte virtual size`);
      }
      return record.virtualSize;
    }
    if (record.kind === 'begin') throw new InputError('a cluster stream has two begin records');
    if (record.kind === 'zero') continue;
    if (record.index < map.endCluster) throw new InputError(`guest cluster ${record.index} comes after cluster ${map.endCluster - 1}: records must be in ascending order`);
    if (begin.virtualSize !== undefined && record.index >= guestClusters(begin.virtualSize, begin.clusterSize)) {
      throw new InputError(`guest cluster ${record.index} lies past the ${begin.virtualSize}-byte virtual size`);
    }
    if (record.kind === 'data') map.addData(record.index, clustersIn(record.bytes, begin.clusterSize, record.index));
    else {
      // As qemu, a stream must be shorter than cluster_size - 1 bytes; a longer one should go as data.
      if (record.bytes.length < 1 || record.bytes.length >= begin.clusterSize - 1) {
        throw new InputError(`compressed guest cluster ${record.index} is ${record.bytes.length} bytes; a compressed stream must be 1 to ${begin.clusterSize - 2} bytes with ${begin.clusterSize}-byte clusters`);
      }
      map.addCompressed(record.index, record.bytes.length);
    }
    yield record;
  }
}

/** The writer stage. */
export function writeQcow2(options: Qcow2WriterOptions = {}): (source: AsyncIterable<ClusterRecord>) => AsyncGenerator<Uint8Array> {
  versionOf(options.compat);
  return async function* qcow2Writer(source) {
    const records = source[Symbol.asyncIterator]();
    try {
      const begin = await openingRecord(records);
      const imageOptions = imageOptionsFor(options, begin.clusterSize);

      if (begin.allocation && begin.virtualSize !== undefined) {
        const layout = planLayout(imageOptions, begin.virtualSize, begin.allocation);
        options.onPlan?.(layout);
        yield* coalesce(encodeMetadata(layout, begin.allocation), METADATA_CHUNK);
        yield* emitDataRegion(layout, begin.allocation, promisedPayload(records, begin, begin.allocation));
        return;
      }

      const spool = await (options.spool ?? (() => new MemorySpool()))();
      try {
        const map = new AllocationMap(l2Entries(begin.clusterSize));
        const payload = mappedPayload(records, begin, map);
        let step = await payload.next();
        for (; !step.done; step = await payload.next()) {
          const { bytes } = step.value;
          try {
            await spool.write(bytes);
          } finally {
            release(bytes);
          }
        }
        const virtualSize = step.value;
        const layout = planLayout(imageOptions, virtualSize, map);
        options.onPlan?.(layout);
        yield* coalesce(encodeMetadata(layout, map), METADATA_CHUNK);
        yield* emitDataRegion(layout, map, spool.read());
      } finally {
        await spool.close();
      }
    } finally {
      await records.return?.();
    }
  };
}
