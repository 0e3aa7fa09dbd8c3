/**
 * qcow2-stream: disk images as streams.
 *
 * Layers, lowest first: `format` (pure encode/decode and the layout planner), `stages`
 * (async-iterable transforms of guest clusters, runtime-agnostic), `node` (files, spools,
 * Node stream faces). Everything public is exported here.
 *
 * @example Raw file to qcow2 file, two passes, no spool:
 *   await writeFileAtomically('disk.qcow2', rawToQcow2('disk.raw', { clusterSize: 65536 }));
 *
 * @example A pipe through it-pipe stages:
 *   await pipe(process.stdin, chunkRaw({ clusterSize: 65536 }), writeQcow2({ spool: tempFileSpool() }), sink);
 */

// Errors
export { FormatError, InputError, IoError, LimitError, OptionError, Qcow2StreamError, UnsupportedError } from './errors.js';

// Format: on-disk structures, planning and measuring
export { AllocationMap, type AllocationRun } from './format/allocation-map.js';
export { decodeHeader, encodeHeader, type Qcow2Header } from './format/header.js';
export { decodeExtensions, decodeFeatureNameTable, type FeatureName, type HeaderExtension } from './format/header-extensions.js';
export { readL1Entry, type L1Entry } from './format/l1-entry.js';
export { readL2Entry, type L2Entry } from './format/l2-entry.js';
export { readRefcount, refcountsPerBlock } from './format/refcount-block.js';
export { maxVirtualSize } from './format/geometry.js';
export { planLayout, validateImageOptions, type ImageOptions, type Qcow2Layout } from './format/layout.js';
export { encodeMetadata } from './format/metadata.js';
export { exactImageSize, qemuMeasure, type QemuMeasure } from './format/measure.js';

// Stages: guest clusters between async iterables
export type { ClusterRecord, CompressedCluster, CompressionAlgorithm, DataClusters, Stage, StreamBegin, StreamEnd, ZeroClusters } from './stages/clusters.js';
export { chunkRaw, type ChunkerOptions } from './stages/chunker.js';
export { writeQcow2, DEFAULT_COMPAT, DEFAULT_REFCOUNT_BITS, type Compat, type Qcow2WriterOptions } from './stages/qcow2-writer.js';
export { MemorySpool, type Spool, type SpoolFactory } from './stages/spool.js';

// Node: files, spools, stream faces
export { readRawFile, type RawFileOptions } from './node/raw-file-source.js';
export { rawClusters, type RawSourceOptions } from './node/raw-source.js';
export { rawToQcow2, DEFAULT_CLUSTER_SIZE, type RawToQcow2Options } from './node/raw-to-qcow2.js';
export { TempFileSpool, tempFileSpool, DEFAULT_SPOOL_MEMORY, type TempFileSpoolOptions } from './node/temp-file-spool.js';
export { writeFileAtomically, type FileSinkOptions } from './node/file-sink.js';
export { writeToStream } from './node/stream-sink.js';
export { BufferPool } from './node/buffer-pool.js';
export { canSkipHoles } from './node/data-extents.js';
export { stageToDuplex } from './node/stage-stream.js';
export { createChunkerStream, createQcow2WriterStream, createRawToQcow2Stream } from './node/streams.js';
