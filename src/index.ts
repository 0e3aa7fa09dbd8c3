/**
 * qcow2-stream: disk images as streams.
 *
 * Layers, lowest first: `format` (pure encode/decode and the layout planner), `codecs`
 * (deflate and zstd behind one interface), `stages` (async-iterable transforms of guest
 * clusters, runtime-agnostic), `node` (files, spools, Node stream faces). Everything public
 * is exported here.
 *
 * @example Raw file to qcow2 file, two passes, no spool:
 *   await writeFileAtomically('disk.qcow2', rawToQcow2('disk.raw', { clusterSize: 65536 }));
 *
 * @example A pipe through it-pipe stages:
 *   await pipe(process.stdin, chunkRaw({ clusterSize: 65536 }), writeQcow2({ spool: tempFileSpool() }), sink);
 */

// Errors and limits
export { DEFAULT_LIMITS, resolveLimits, type Limits } from './limits.js';
export { FormatError, InputError, IoError, LimitError, OptionError, Qcow2StreamError, UnsupportedError } from './errors.js';

// Format: on-disk structures, planning and measuring
export { AllocationMap, type AllocationRun } from './format/allocation-map.js';
export { decodeHeader, encodeHeader, type Qcow2Header } from './format/header.js';
export { decodeExtensions, decodeFeatureNameTable, type FeatureName, type HeaderExtension } from './format/header-extensions.js';
export { readL1Entry, type L1Entry } from './format/l1-entry.js';
export { readL2Entry, type L2Entry } from './format/l2-entry.js';
export { readRefcount, refcountsPerBlock } from './format/refcount-block.js';
export { maxVirtualSize } from './format/geometry.js';
export { planLayout, validateImageOptions, worstCaseHeadLength, type ImageOptions, type Qcow2Layout } from './format/layout.js';
export { encodeMetadata } from './format/metadata.js';
export { exactImageSize, qemuMeasure, type QemuMeasure } from './format/measure.js';
export { parseImageHead, assertReadable, type ImageHead } from './format/image-head.js';
export { clusterMapping, type ClusterMapping } from './format/cluster-mapping.js';

// Codecs
export type { ClusterCodec } from './codecs/codec.js';
export { pakoDeflate } from './codecs/deflate-pako.js';
export { nodeDeflate } from './codecs/deflate-node.js';
export { zstdCodec } from './codecs/zstd.js';

// Stages: guest clusters between async iterables
export type { ClusterRecord, CompressedCluster, CompressionAlgorithm, DataClusters, Stage, StreamBegin, StreamEnd, ZeroClusters } from './stages/clusters.js';
export { chunkRaw, type ChunkerOptions } from './stages/chunker.js';
export { writeQcow2, DEFAULT_COMPAT, DEFAULT_REFCOUNT_BITS, type Compat, type Qcow2WriterOptions } from './stages/qcow2-writer.js';
export { writeQcow2HeadLast, type HeadLastSegment, type HeadPlan } from './stages/qcow2-head-last-writer.js';
export { reportProgress, type ProgressListener } from './stages/progress.js';
export { MemorySpool, type Spool, type SpoolFactory } from './stages/spool.js';
export { readQcow2, type Qcow2ReaderOptions } from './stages/qcow2-reader.js';
export { decompressClusters, portableCodecs, type Codecs } from './stages/decompress.js';
export { writeRaw } from './stages/raw-writer.js';
export { reclusterClusters } from './stages/recluster.js';
export { compressClusters, inlineCompressor, type BatchCompressor, type CompressOptions } from './stages/compress.js';
export { inlineDecompressor, type BatchDecompressor, type DecompressOptions } from './stages/decompress.js';
export { orderedBatches, type OrderedBatchOptions } from './stages/ordered-batches.js';
export { MemoryKeyedStore, type KeyedStore, type KeyedStoreFactory } from './stages/keyed-store.js';
export type { BackingOpener, GuestImage } from './stages/guest-image.js';

// Node: files, spools, stream faces
export { readRawFile, type RawFileOptions } from './node/raw-file-source.js';
export { rawClusters, type RawSourceOptions } from './node/raw-source.js';
export { rawToQcow2, DEFAULT_CLUSTER_SIZE, type RawToQcow2Options } from './node/raw-to-qcow2.js';
export { TempFileSpool, tempFileSpool, DEFAULT_SPOOL_MEMORY, type TempFileSpoolOptions } from './node/temp-file-spool.js';
export { writeFileAtomically, type FileSinkOptions } from './node/file-sink.js';
export { writeToStream } from './node/stream-sink.js';
export { BufferPool, release, retain, sharedBufferPool, type BufferPoolOptions, type BufferPoolStats } from './stages/buffer-pool.js';
export { canSkipHoles } from './node/data-extents.js';
export { stageToDuplex } from './node/stage-stream.js';
export { createChunkerStream, createQcow2ReaderStream, createQcow2WriterStream, createRawToQcow2Stream, createRawWriterStream, type PlanningStream } from './node/streams.js';
export { Qcow2File, type Qcow2FileOptions } from './node/qcow2-file.js';
export { qcow2Clusters, type Qcow2SourceOptions } from './node/qcow2-source.js';
export { openSource, toQcow2, toQcow2HeadLast, toRawClusters, type SourceOptions, type Qcow2OutputOptions, type CompressionOptions, type OpenedSource } from './node/convert.js';
export { writeHeadLastFile, type HeadLastFileOptions } from './node/head-last-file.js';
export { writeQcow2To, writeRawTo, type DestinationOptions } from './node/destinations.js';
export { openByteSource, type NetworkOptions } from './node/sources.js';
export { parseLocation, type Location } from './node/net/location.js';
export { httpSource, type ByteSource } from './node/net/http-source.js';
export { httpSink, type HttpSinkOptions } from './node/net/http-sink.js';
export { tcpSource, tcpSink, type TcpOptions } from './node/net/tcp.js';
export { s3Source } from './node/net/s3-source.js';
export { uploadHeadLast, uploadBytes, type S3Destination, type S3SinkOptions } from './node/net/s3-sink.js';
export type { S3Options } from './node/net/s3-client.js';
export { writeRawFile } from './node/raw-file-sink.js';
export { backingOpener, type BackingOptions } from './node/backing.js';
export { TempFileKeyedStore, tempFileKeyedStore } from './node/temp-file-keyed-store.js';
export { RawFileImage } from './node/raw-file-image.js';
export { nodeCodecs } from './node/codecs.js';
export { CodecPool, type CodecPoolOptions } from './node/codec-pool.js';
export { threadpoolCompressor, type ThreadpoolCompressor } from './node/threadpool-compressor.js';
export { probeFormat, probeStream, type ImageFormat } from './node/probe.js';
export { imageInfo, formatInfo, type ImageInfo } from './node/image-info.js';
export { checkQcow2File, checkQcow2Stream, checkExitCode, type CheckReport, type CheckOptions } from './node/qcow2-check.js';
