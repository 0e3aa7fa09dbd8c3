/**
 * What a conversion to qcow2 would write, found by running it without writing: the source
 * goes through the same stages (inflated, cut, compressed if asked) into the head-last
 * writer, whose data region is counted and thrown away, so nothing is spooled and memory
 * stays small whatever the source.
 */
import { qemuMeasure, type QemuMeasure } from '../format/measure.js';
import { release } from '../stages/buffer-pool.js';
import type { ClusterRecord } from '../stages/clusters.js';
import { imageOptionsFor } from '../stages/qcow2-writer.js';
import { toQcow2HeadLast, type Qcow2OutputOptions } from './convert.js';
import { DEFAULT_CLUSTER_SIZE } from './raw-to-qcow2.js';

export interface ConversionMeasure extends QemuMeasure {
  virtualSize: number;
  /** Bytes of guest clusters that hold data (before compression). */
  allocatedBytes: number;
  /** The exact length of the image convert writes in order (to a pipe, HTTP or TCP). */
  exact: number;
}

export async function measureConversion(records: AsyncIterable<ClusterRecord>, options: Qcow2OutputOptions = {}): Promise<ConversionMeasure> {
  const clusterSize = options.clusterSize ?? DEFAULT_CLUSTER_SIZE;
  const image = imageOptionsFor(options, clusterSize);
  let allocatedBytes = 0;
  let virtualSize = 0;
  async function* counted(): AsyncGenerator<ClusterRecord> {
    let sourceClusterSize = 0;
    for await (const record of records) {
      if (record.kind === 'begin') sourceClusterSize = record.clusterSize;
      else if (record.kind === 'data') allocatedBytes += record.bytes.length;
      else if (record.kind === 'compressed') allocatedBytes += sourceClusterSize;
      else if (record.kind === 'end') virtualSize = record.virtualSize;
      yield record;
    }
  }
  for await (const segment of toQcow2HeadLast(counted(), options)) {
    if (segment.kind === 'data') release(segment.bytes);
    if (segment.kind !== 'head') continue;
    const exact = segment.plan(0).layout.totalLength;
    return { ...qemuMeasure(image, virtualSize, Math.ceil(allocatedBytes / clusterSize) * clusterSize), virtualSize, allocatedBytes, exact };
  }
  throw new Error('internal: the head-last stream ended without its head');
}
