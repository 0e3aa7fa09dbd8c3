/**
 * Writes a converted image where the command line says: a file (atomically), stdout, an
 * HTTP PUT, a TCP peer, or S3. qcow2 is written the cheapest way each allows:
 *
 * - a promised allocation map (a raw file, uncompressed): in order, nothing spooled;
 * - S3: head last, as a multipart upload, nothing spooled;
 * - a file: head last behind a reserved head region where that is small (head-last-file.ts),
 *   otherwise in order with the data spooled; either way the bytes a pipe would get;
 * - a stream (stdout, HTTP, TCP): in order, the data spooled when the map comes last. The
 *   length is known before the first byte, so an HTTP PUT carries a Content-Length.
 *
 * The network modules load only for a destination that needs them (they cost startup time).
 */
import type { ClusterRecord, StreamBegin } from '../stages/clusters.js';
import { writeRaw } from '../stages/raw-writer.js';
import { toQcow2, toQcow2HeadLast, type Qcow2OutputOptions } from './convert.js';
import { isSpecialFile, withDestination, writeFileAtomically, type FileSinkOptions } from './file-sink.js';
import { writeHeadLastFile, type HeadLastFileOptions } from './head-last-file.js';
import type { Location } from './net/location.js';
import { writeRawFile } from './raw-file-sink.js';
import { DEFAULT_CLUSTER_SIZE } from './raw-to-qcow2.js';
import type { NetworkOptions } from './sources.js';
import { writeStdout } from './stdio.js';

export interface DestinationOptions extends NetworkOptions, FileSinkOptions, Pick<HeadLastFileOptions, 'maxReservation'> {
  /** Told the output's exact length as soon as it is known. */
  onLength?: (length: number) => void;
}

/** The first record, and the stream with it put back. */
async function peekBegin(records: AsyncIterable<ClusterRecord>): Promise<{ begin: StreamBegin | undefined; records: AsyncGenerator<ClusterRecord> }> {
  const iterator = records[Symbol.asyncIterator]();
  const first = await iterator.next();
  const rest = async function* (): AsyncGenerator<ClusterRecord> {
    try {
      if (first.done) return;
      yield first.value;
      for (let step = await iterator.next(); !step.done; step = await iterator.next()) yield step.value;
    } finally {
      await iterator.return?.();
    }
  };
  return { begin: !first.done && first.value.kind === 'begin' ? first.value : undefined, records: rest() };
}

/**
 * Whether a qcow2 image goes to `location` head last (S3, a regular file): its writer needs no
 * allocation map up front, so a raw file source need not find one in a first pass.
 */
export async function takesHeadLast(location: Location): Promise<boolean> {
  return location.kind === 's3' || (location.kind === 'file' && !(await isSpecialFile(location.path)));
}

/** Writes the qcow2 image of `source` to `location`; `reopen` reads the source again (for --compress-twice). */
export async function writeQcow2To(location: Location, source: AsyncIterable<ClusterRecord>, options: Qcow2OutputOptions & DestinationOptions, reopen?: () => AsyncIterable<ClusterRecord>): Promise<number> {
  const onPlan = (layout: { totalLength: number }) => options.onLength?.(layout.totalLength);
  const inOrder = (records: AsyncIterable<ClusterRecord>) => toQcow2(records, { ...options, onPlan }, reopen);
  const headLast = (records: AsyncIterable<ClusterRecord>) => toQcow2HeadLast(records, options);
  switch (location.kind) {
    case 'stdio':
      return writeStdout(inOrder(source));
    case 'file': {
      const { begin, records } = await peekBegin(source);
      const sameClusters = begin?.clusterSize === (options.clusterSize ?? DEFAULT_CLUSTER_SIZE);
      if (options.compressTwice || (begin?.allocation && !options.compress && sameClusters)) {
        return writeFileAtomically(location.path, inOrder(records), options);
      }
      return withDestination(location.path, options, (fd, seekable) =>
        writeHeadLastFile(fd, location.path, headLast(records), seekable, { ...options, ...(options.onLength && { onLength: options.onLength }) }),
      );
    }
    case 'http': {
      let length: number | undefined;
      const bytes = toQcow2(source, { ...options, onPlan: (layout) => ((length = layout.totalLength), onPlan(layout)) }, reopen);
      return (await import('./net/http-sink.js')).httpSink(location.url, location.name, bytes, { length: () => length, ...(options.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }) });
    }
    case 'tcp':
    case 'tcp-listen':
      return (await import('./net/tcp.js')).tcpSink(location, inOrder(source), { ...(options.timeoutMs !== undefined && { connectTimeoutMs: options.timeoutMs }), ...options.tcp });
    case 's3':
      return (await import('./net/s3-sink.js')).uploadHeadLast(headLast(source), { bucket: location.bucket, key: location.key, name: location.name }, { ...(options.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }), ...options.s3, ...(options.onLength && { onLength: options.onLength }) });
  }
}

/** Records with the virtual size reported as soon as a begin or end record gives it. */
async function* sized(records: AsyncIterable<ClusterRecord>, onLength: ((length: number) => void) | undefined): AsyncGenerator<ClusterRecord> {
  let told = false;
  for await (const record of records) {
    if (!told && (record.kind === 'begin' || record.kind === 'end') && record.virtualSize !== undefined) {
      onLength?.(record.virtualSize);
      told = true;
    }
    yield record;
  }
}

/** Writes the raw image of (inflated) `records` to `location`. */
export async function writeRawTo(location: Location, records: AsyncIterable<ClusterRecord>, options: DestinationOptions = {}): Promise<number> {
  let length: number | undefined;
  const source = sized(records, (n) => ((length = n), options.onLength?.(n)));
  const bytes = () => writeRaw()(source);
  switch (location.kind) {
    case 'stdio':
      return writeStdout(bytes());
    case 'file':
      return writeRawFile(location.path, source, options);
    case 'http':
      return (await import('./net/http-sink.js')).httpSink(location.url, location.name, bytes(), { length: () => length, ...(options.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }) });
    case 'tcp':
    case 'tcp-listen':
      return (await import('./net/tcp.js')).tcpSink(location, bytes(), { ...(options.timeoutMs !== undefined && { connectTimeoutMs: options.timeoutMs }), ...options.tcp });
    case 's3':
      return (await import('./net/s3-sink.js')).uploadBytes(bytes(), { bucket: location.bucket, key: location.key, name: location.name }, { ...(options.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }), ...options.s3 });
  }
}
