/**
 * Node stream faces (streamx Duplex) of the stages, for `.pipe()` and `stream.pipeline`.
 * Each is the same implementation as the async-iterable stage it wraps.
 */
import type { Duplex, DuplexEvents } from 'streamx';
import type { Qcow2Layout } from '../format/layout.js';
import { chunkRaw, type ChunkerOptions } from '../stages/chunker.js';
import type { ClusterRecord } from '../stages/clusters.js';
import { writeQcow2, type Qcow2WriterOptions } from '../stages/qcow2-writer.js';
import { rawToQcow2, type RawToQcow2Options } from './raw-to-qcow2.js';
import { stageToDuplex } from './stage-stream.js';
import { readQcow2, type Qcow2ReaderOptions } from '../stages/qcow2-reader.js';
import { writeRaw } from '../stages/raw-writer.js';
import { decompressClusters } from '../stages/decompress.js';
import { nodeCodecs } from './codecs.js';
import { tempFileKeyedStore } from './temp-file-keyed-store.js';
import type { TempFileSpoolOptions } from './temp-file-spool.js';

/** A stream face that also emits 'plan', with the layout (its `totalLength` the exact output length), before its first byte. */
export type PlanningStream = Duplex<DuplexEvents & { plan: [plan: Qcow2Layout] }>;

/** Raw bytes in, cluster records (objects) out. */
export function createChunkerStream(options: ChunkerOptions): Duplex {
  return stageToDuplex(chunkRaw(options));
}

/** Cluster records in, qcow2 bytes out; emits 'plan' (a Qcow2Layout, `totalLength` the exact size) before the first byte. */
export function createQcow2WriterStream(options: Qcow2WriterOptions = {}): PlanningStream {
  const stream = stageToDuplex<ClusterRecord, Uint8Array>((source) =>
    writeQcow2({ ...options, onPlan: (layout) => (options.onPlan?.(layout), stream.emit('plan', layout)) })(source),
  ) as PlanningStream;
  return stream;
}

/** Raw bytes in, qcow2 bytes out, in one pass through a temp-file spool; emits 'plan' like the writer. */
export function createRawToQcow2Stream(options: RawToQcow2Options = {}): PlanningStream {
  const stream = stageToDuplex<Uint8Array, Uint8Array>((source) =>
    rawToQcow2(source, { ...options, onPlan: (layout) => (options.onPlan?.(layout), stream.emit('plan', layout)) }),
  ) as PlanningStream;
  return stream;
}

/** qcow2 bytes in, cluster records out, forward only; spills to a temp file when data comes out of order. */
export function createQcow2ReaderStream(options: Qcow2ReaderOptions & TempFileSpoolOptions = {}): Duplex {
  return stageToDuplex(readQcow2({ store: tempFileKeyedStore(options), ...options }));
}

/** Cluster records in (compressed ones are inflated), raw bytes out. */
export function createRawWriterStream(): Duplex {
  return stageToDuplex<ClusterRecord, Uint8Array>((source) => writeRaw()(decompressClusters({ codecs: nodeCodecs() })(source)));
}
