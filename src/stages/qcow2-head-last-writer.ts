/**
 * The qcow2 writer for sinks that can take the head last (design.md, "Writing qcow2"): the
 * data region goes out as the clusters arrive, and the header and tables, whose size is only
 * known at the end, come after. Data clusters hold no pointers and the head is a whole number
 * of clusters, so the data region's bytes do not depend on where it ends up. One pass, no
 * spool, for any source, compressed or not.
 *
 * Out come, in order: a `begin` segment (the stream's cluster size and, when known, virtual
 * size, so a sink can reserve room), `data` segments (the data region from its first byte,
 * padding included), and a `head` segment whose `plan` lays the image out with the data
 * region starting at or after the offset the sink asks for, and gives the head's bytes.
 */
import { AllocationMap } from '../format/allocation-map.js';
import { DataPlacer, type Placement } from '../format/data-placement.js';
import { l2Entries } from '../format/geometry.js';
import { LimitError } from '../errors.js';
import { planLayout, worstCaseHeadLength, type ImageOptions, type Qcow2Layout } from '../format/layout.js';
import { encodeMetadata } from '../format/metadata.js';
import { maxRefcount } from '../format/refcount-block.js';
import type { ClusterRecord, StreamBegin } from './clusters.js';
import { coalesce } from './coalesce.js';
import { imageOptionsFor, mappedPayload, METADATA_CHUNK, openingRecord, versionOf, type Qcow2WriterOptions } from './qcow2-writer.js';
import { retain } from './buffer-pool.js';
import { zeros } from './zeros.js';

export interface HeadPlan {
  layout: Qcow2Layout;
  /** Bytes 0 to `layout.dataOffset`: header, tables and padding, in chunks of about 1 MiB. */
  chunks: Iterable<Uint8Array>;
}

export type HeadLastSegment =
  | {
      kind: 'begin';
      clusterSize: number;
      virtualSize?: number;
      /**
       * How long the head will be, as far as can be told before the data: exact when the
       * source promised or bounded its map, the longest any image of this virtual size can
       * need otherwise, absent when the virtual size is not known yet (or the worst case could
       * not exist). A sink that writes the data region first reserves this much in front of it.
       */
      expectedHeadLength?: number;
    }
  | { kind: 'data'; bytes: Uint8Array }
  | {
      kind: 'head';
      /** Bytes in the data region (a whole number of clusters). */
      dataLength: number;
      /** Lays the image out with its data region at `minDataOffset` or later (rounded up to a cluster). */
      plan(minDataOffset: number): HeadPlan;
    };

/** Plain clusters wait here, in guest order, with their references, until their placement comes (a short window, see data-placement.ts). */
class PlainQueue {
  private readonly items: Array<{ index: number; bytes: Uint8Array }> = [];

  constructor(private readonly clusterSize: number) {}

  push(index: number, bytes: Uint8Array): void {
    this.items.push({ index, bytes });
  }

  /** The bytes of `count` clusters from guest cluster `start`, which must be at the front. */
  *take(start: number, count: number): Generator<Uint8Array> {
    const { clusterSize } = this;
    while (count > 0) {
      const item = this.items[0];
      if (!item || item.index !== start) throw new RangeError(`placement asks for guest cluster ${start}, which is not next`);
      const clusters = item.bytes.length / clusterSize;
      if (clusters <= count) {
        this.items.shift();
        yield item.bytes;
        start += clusters;
        count -= clusters;
      } else {
        const bytes = count * clusterSize;
        const piece = item.bytes.subarray(0, bytes);
        retain(piece); // the rest keeps the reference the record came with
        yield piece;
        this.items[0] = { index: item.index + count, bytes: item.bytes.subarray(bytes) };
        count = 0;
      }
    }
  }
}

/** The head's length as far as the opening record tells it (see `expectedHeadLength`). */
function headLengthBefore(imageOptions: ImageOptions, begin: StreamBegin): number | undefined {
  if (begin.virtualSize === undefined) return undefined;
  const map = begin.allocation ?? begin.bound;
  try {
    // A bound map laid out as it stands needs at least as many tables as what comes within it.
    return map ? planLayout(imageOptions, begin.virtualSize, map).dataOffset : worstCaseHeadLength(imageOptions, begin.virtualSize);
  } catch (error) {
    if (error instanceof LimitError) return undefined; // the full image could not exist; this one may
    throw error;
  }
}

export function writeQcow2HeadLast(options: Qcow2WriterOptions = {}): (source: AsyncIterable<ClusterRecord>) => AsyncGenerator<HeadLastSegment> {
  versionOf(options.compat);
  return async function* qcow2HeadLastWriter(source) {
    const records = source[Symbol.asyncIterator]();
    try {
      const begin = await openingRecord(records);
      const imageOptions = imageOptionsFor(options, begin.clusterSize);
      const { clusterSize } = begin;
      const expectedHeadLength = headLengthBefore(imageOptions, begin);
      yield { kind: 'begin', clusterSize, ...(begin.virtualSize !== undefined && { virtualSize: begin.virtualSize }), ...(expectedHeadLength !== undefined && { expectedHeadLength }) };

      const map = new AllocationMap(l2Entries(clusterSize));
      const placer = new DataPlacer(clusterSize, maxRefcount(Math.log2(imageOptions.refcountBits)));
      const plain = new PlainQueue(clusterSize);
      let position = 0;
      /** The bytes a placement puts in the region, after any padding it needs. */
      function* emit(placement: Placement, compressed?: Uint8Array): Generator<HeadLastSegment> {
        if (placement.at > position) for (const bytes of zeros(placement.at - position)) yield { kind: 'data', bytes };
        if (placement.kind === 'compressed') {
          yield { kind: 'data', bytes: compressed! };
          position = placement.at + placement.length;
        } else {
          for (const bytes of plain.take(placement.start, placement.count)) yield { kind: 'data', bytes };
          position = placement.at + placement.count * clusterSize;
        }
      }

      const payload = mappedPayload(records, begin, map);
      let step = await payload.next();
      for (; !step.done; step = await payload.next()) {
        const record = step.value;
        if (record.kind === 'data') {
          plain.push(record.index, record.bytes);
          for (const placement of placer.addData(record.index, record.bytes.length / clusterSize)) yield* emit(placement);
        } else {
          for (const placement of placer.addCompressed(record.index, record.bytes.length)) yield* emit(placement, record.bytes);
        }
      }
      const virtualSize = step.value;
      for (const placement of placer.finish(map.endCluster)) yield* emit(placement);
      const dataLength = Math.ceil(position / clusterSize) * clusterSize;
      for (const bytes of zeros(dataLength - position)) yield { kind: 'data', bytes };

      const plan = (minDataOffset: number): HeadPlan => {
        const layout = planLayout(imageOptions, virtualSize, map, minDataOffset);
        if (layout.dataClusters * clusterSize !== dataLength) throw new Error('internal: the data region came out a different length than planned');
        return { layout, chunks: coalesce(encodeMetadata(layout, map), METADATA_CHUNK) };
      };
      yield { kind: 'head', dataLength, plan };
    } finally {
      await records.return?.();
    }
  };
}
