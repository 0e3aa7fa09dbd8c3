/**
 * Guest clusters: the one currency between stages. A cluster stream is an async iterable of
 * records in ascending guest order, opened by `begin` and closed by `end`. Guest clusters
 * that no record mentions read as zeros (or as the backing image, where there is one).
 */
import type { AllocationMap } from '../format/allocation-map.js';

export interface StreamBegin {
  kind: 'begin';
  clusterSize: number;
  /** Known up front for files and qcow2 images; a raw pipe only learns it at `end`. */
  virtualSize?: number;
  /**
   * A promise from the source: the data and compressed records that follow are exactly the
   * clusters this map lists. A writer that gets one can plan and emit without spooling.
   */
  allocation?: AllocationMap;
  /**
   * A weaker promise: no record that follows names a cluster outside this map. A stage that
   * changes which clusters are data and which compressed (the compressor) turns `allocation`
   * into this; a writer can still size its tables from it up front.
   */
  bound?: AllocationMap;
}

/** One or more whole consecutive guest clusters of data, from guest cluster `index`. */
export interface DataClusters {
  kind: 'data';
  index: number;
  /** A multiple of the cluster size; bytes past the virtual size are zero. */
  bytes: Uint8Array;
}

export type CompressionAlgorithm = 'deflate' | 'zstd';

/** One guest cluster as a compressed stream. */
export interface CompressedCluster {
  kind: 'compressed';
  index: number;
  bytes: Uint8Array;
  algorithm: CompressionAlgorithm;
}

/** Clusters that read as zeros even where a backing image would show through. */
export interface ZeroClusters {
  kind: 'zero';
  index: number;
  count: number;
}

export interface StreamEnd {
  kind: 'end';
  virtualSize: number;
}

export type ClusterRecord = StreamBegin | DataClusters | CompressedCluster | ZeroClusters | StreamEnd;

/** A stage: a function from one async iterable to another, composable with it-pipe. */
export type Stage<In, Out> = (source: AsyncIterable<In>) => AsyncIterable<Out>;
