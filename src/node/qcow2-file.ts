/**
 * A qcow2 image in a regular file, read with random access: the header and L1 first, then
 * each L2 table and the clusters it maps, a few reads ahead. Gives the same cluster stream
 * as the streaming reader (and serves as a backing image through `read`).
 * Every offset is checked against the file's size before it is used.
 *
 * Host bytes are read into pool buffers (see buffer-pool.ts): a run of clusters with no zero
 * cluster goes downstream whole, holding its buffer's reference, and compressed streams read at
 * once hold one reference each to their shared buffer.
 */
import type { FileHandle } from 'node:fs/promises';
import { FormatError } from '../errors.js';
import { resolveLimits, type Limits } from '../limits.js';
import { clusterMapping, hostBytesNeeded, l2EntriesOf, type ClusterMapping } from '../format/cluster-mapping.js';
import { L1_ENTRY_SIZE } from '../format/constants.js';
import { guestClusters } from '../format/geometry.js';
import { assertReadable, type ImageHead } from '../format/image-head.js';
import { readL1Entry } from '../format/l1-entry.js';
import { SnapshotTableParser } from '../format/snapshot-table.js';
import { viewOf } from '../format/uint64.js';
import type { ClusterRecord } from '../stages/clusters.js';
import { inflateRecord, type Codecs } from '../stages/decompress.js';
import type { BackingOpener, GuestImage } from '../stages/guest-image.js';
import { needsHostBytes, recordFor, type GuestContext } from '../stages/guest-records.js';
import { refuseBacking } from '../stages/qcow2-reader.js';
import { isAllZero } from '../stages/zero-detect.js';
import { BufferPool, release, retain, sharedBufferPool } from '../stages/buffer-pool.js';
import { openForReading, readImageHead } from './image-file.js';
import { ioError } from './io-error.js';
import { orderedReads } from './ordered-reads.js';
import { readFully } from './positional-io.js';

export interface Qcow2FileOptions {
  openBacking?: BackingOpener;
  /** Caps on what the image may ask for (see limits.ts). */
  limits?: Partial<Limits>;
  onWarning?: (message: string) => void;
  onHead?: (head: ImageHead) => void;
  codecs?: Codecs;
  /** Where host bytes are read into. Default: the shared pool. */
  pool?: BufferPool;
}

/** Host bytes read at once for a run of data clusters (or at least one cluster). */
const RUN_BYTES = 1024 * 1024;
const READ_DEPTH = 3;
const COMPRESSED_SLACK = 512;
/** L2 tables kept for random reads (as a backing image). */
const TABLE_CACHE = 64;

type Job =
  | { kind: 'run'; guest: number; count: number; hostOffset: number }
  /** Compressed streams lying one after another: read at once, [from, to). */
  | { kind: 'streams'; guests: number[]; starts: number[]; lengths: number[]; from: number; to: number }
  | { kind: 'one'; guest: number; mapping: ClusterMapping }
  | { kind: 'absent'; from: number; to: number };

/** Reads the snapshot table through the check qemu makes when it opens an image (zeros past the end of the file, as qemu reads). */
async function checkSnapshotTable(fd: number, head: ImageHead): Promise<void> {
  const table = new SnapshotTableParser(head.header.nbSnapshots);
  const chunk = Buffer.alloc(64 * 1024);
  for (let at = head.header.snapshotsOffset; !table.done; at += chunk.length) {
    chunk.fill(0);
    await readFully(fd, chunk, chunk.length, at);
    table.feed(chunk);
  }
}

export class Qcow2File implements GuestImage {
  readonly virtualSize: number;
  private readonly clusterSize: number;
  private readonly l2Entries: number;
  private readonly guestCount: number;
  private readonly tableCache = new Map<number, DataView>();
  private readonly context: GuestContext;
  private readonly runBytes: number;

  private constructor(
    private readonly file: FileHandle,
    private readonly path: string,
    readonly head: ImageHead,
    private readonly fileSize: number,
    private readonly l1: DataView,
    backing: GuestImage | undefined,
    private readonly codecs: Codecs,
    private readonly pool: BufferPool,
  ) {
    this.virtualSize = head.virtualSize;
    this.clusterSize = head.clusterSize;
    this.l2Entries = l2EntriesOf(head);
    this.guestCount = guestClusters(this.virtualSize, this.clusterSize);
    this.context = { clusterSize: this.clusterSize, virtualSize: this.virtualSize, algorithm: head.compression, backing };
    this.runBytes = Math.max(this.clusterSize, RUN_BYTES);
  }

  static async open(path: string, options: Qcow2FileOptions = {}): Promise<Qcow2File> {
    const file = await openForReading(path);
    let backing: GuestImage | undefined;
    try {
      const fileSize = Number((await file.stat()).size);
      const { head } = await readImageHead(file, fileSize, resolveLimits(options.limits));
      options.onHead?.(head);
      assertReadable(head);
      for (const warning of head.warnings) options.onWarning?.(warning);
      const { l1TableOffset, l1Size } = head.header;
      const l1End = l1TableOffset + l1Size * L1_ENTRY_SIZE;
      if (l1Size > 0 && l1End > fileSize) throw new FormatError('l1_table_offset', `the L1 table (bytes ${l1TableOffset} to ${l1End}) lies past the end of the file (${fileSize} bytes)`, 40);
      const l1 = Buffer.alloc(l1Size * L1_ENTRY_SIZE);
      await readFully(file.fd, l1, l1.length, l1TableOffset);
      await checkSnapshotTable(file.fd, head);
      if (head.backingFile !== undefined) {
        if (!options.openBacking) throw refuseBacking(head);
        backing = await options.openBacking(head.backingFile, head.backingFormat, 1);
      }
      const codecs = options.codecs ?? (await import('./codecs.js')).nodeCodecs();
      await codecs[head.compression].ready?.();
      return new Qcow2File(file, path, head, fileSize, viewOf(l1), backing, codecs, options.pool ?? sharedBufferPool());
    } catch (error) {
      await backing?.close();
      await file.close();
      throw ioError(error, 'read', path);
    }
  }

  async close(): Promise<void> {
    await this.context.backing?.close();
    await this.file.close();
  }

  private async read0(buffer: Uint8Array, length: number, position: number): Promise<number> {
    try {
      return await readFully(this.file.fd, buffer, length, position);
    } catch (error) {
      throw ioError(error, 'read', this.path);
    }
  }

  /** The L2 table of L1 entry `l1Index`, or undefined when the entry is 0. */
  private async table(l1Index: number): Promise<DataView | undefined> {
    const { l2Offset } = readL1Entry(this.l1, l1Index);
    if (l2Offset === 0) return undefined;
    const cached = this.tableCache.get(l1Index);
    if (cached) return cached;
    if (l2Offset % this.clusterSize !== 0) throw new FormatError(`L1 entry ${l1Index}`, `L2 table offset ${l2Offset} is not cluster aligned`);
    if (l2Offset + this.clusterSize > this.fileSize) throw new FormatError(`L1 entry ${l1Index}`, `L2 table at byte ${l2Offset} lies past the end of the file (${this.fileSize} bytes)`);
    if (l2Offset < this.clusterSize) throw new FormatError(`L1 entry ${l1Index}`, 'L2 table overlaps the header');
    const bytes = Buffer.alloc(this.clusterSize);
    await this.read0(bytes, bytes.length, l2Offset);
    const table = viewOf(bytes);
    if (this.tableCache.size >= TABLE_CACHE) this.tableCache.delete(this.tableCache.keys().next().value!);
    this.tableCache.set(l1Index, table);
    return table;
  }

  private mappingIn(table: DataView, guest: number): ClusterMapping {
    const mapping = clusterMapping(table, guest % this.l2Entries, this.head, guest);
    if (mapping.kind === 'data' && mapping.allocated !== 0 && mapping.hostOffset + hostBytesNeeded(mapping, this.clusterSize) > this.fileSize) {
      throw new FormatError(`L2 entry for guest cluster ${guest}`, `host offset ${mapping.hostOffset} lies past the end of the file (${this.fileSize} bytes)`);
    }
    if (mapping.kind === 'compressed' && (mapping.hostOffset >= this.fileSize || mapping.hostOffset + mapping.length > this.fileSize + COMPRESSED_SLACK)) {
      throw new FormatError(`L2 entry for guest cluster ${guest}`, `compressed cluster at byte ${mapping.hostOffset} lies past the end of the file (${this.fileSize} bytes)`);
    }
    return mapping;
  }

  private async *jobs(): AsyncGenerator<Job> {
    const tables = Math.ceil(this.guestCount / this.l2Entries);
    for (let l1Index = 0; l1Index < tables; l1Index++) {
      const first = l1Index * this.l2Entries;
      const last = Math.min(first + this.l2Entries, this.guestCount);
      const table = await this.table(l1Index);
      this.tableCache.delete(l1Index); // read once, in order: no need to keep it
      if (!table) {
        yield { kind: 'absent', from: first, to: last };
        continue;
      }
      let run: Extract<Job, { kind: 'run' }> | undefined;
      let streams: Extract<Job, { kind: 'streams' }> | undefined;
      for (let guest = first; guest < last; guest++) {
        const mapping = this.mappingIn(table, guest);
        const whole = mapping.kind === 'data' && mapping.allocated === undefined;
        if (whole && run && run.hostOffset + run.count * this.clusterSize === mapping.hostOffset && run.guest + run.count === guest && (run.count + 1) * this.clusterSize <= this.runBytes) {
          run.count++;
          continue;
        }
        if (mapping.kind === 'compressed') {
          const end = mapping.hostOffset + mapping.length;
          // The next stream usually starts inside the last sector of the one before it.
          if (streams && mapping.hostOffset >= streams.starts.at(-1)! && mapping.hostOffset <= streams.to && end - streams.from <= this.runBytes) {
            streams.guests.push(guest);
            streams.starts.push(mapping.hostOffset);
            streams.lengths.push(mapping.length);
            streams.to = Math.max(streams.to, end);
            continue;
          }
        }
        if (run) yield run;
        if (streams) yield streams;
        run = undefined;
        streams = undefined;
        if (whole) run = { kind: 'run', guest, count: 1, hostOffset: mapping.hostOffset };
        else if (mapping.kind === 'compressed') streams = { kind: 'streams', guests: [guest], starts: [mapping.hostOffset], lengths: [mapping.length], from: mapping.hostOffset, to: mapping.hostOffset + mapping.length };
        else if (mapping.kind !== 'zero' && (mapping.kind !== 'absent' || this.context.backing)) yield { kind: 'one', guest, mapping };
      }
      if (run) yield run;
      if (streams) yield streams;
    }
  }

  /** `length` bytes at `offset` into a pool buffer, zeros past the end of the file (a compressed tail, unallocated subclusters). */
  private async readHost(offset: number, length: number): Promise<Uint8Array> {
    const bytes = this.pool.take(length);
    try {
      const got = await this.read0(bytes, Math.max(0, Math.min(length, this.fileSize - offset)), offset);
      bytes.fill(0, got);
      return bytes;
    } catch (error) {
      release(bytes);
      throw error;
    }
  }

  /** Host bytes a job needs, read ahead of its turn; they hold a reference. */
  private async fetch(job: Job): Promise<{ job: Job; bytes: Uint8Array | undefined }> {
    if (job.kind === 'run') return { job, bytes: await this.readHost(job.hostOffset, job.count * this.clusterSize) };
    if (job.kind === 'streams') return { job, bytes: await this.readHost(job.from, job.to - job.from) };
    if (job.kind === 'one' && needsHostBytes(job.mapping)) {
      const { mapping } = job;
      const length = mapping.kind === 'compressed' ? mapping.length : this.clusterSize;
      const offset = mapping.kind === 'compressed' || mapping.kind === 'data' ? mapping.hostOffset : 0;
      return { job, bytes: await this.readHost(offset, length) };
    }
    return { job, bytes: undefined };
  }

  /** Whether a run of plain clusters can go downstream as one record: none reads as zeros, none reaches past the disk. */
  private wholeRun(job: Extract<Job, { kind: 'run' }>, bytes: Uint8Array): boolean {
    if ((job.guest + job.count) * this.clusterSize > this.virtualSize) return false;
    for (let at = 0; at < bytes.length; at += this.clusterSize) if (isAllZero(bytes.subarray(at, at + this.clusterSize))) return false;
    return true;
  }

  /** The whole image as a cluster stream. */
  async *clusters(): AsyncGenerator<ClusterRecord> {
    yield { kind: 'begin', clusterSize: this.clusterSize, virtualSize: this.virtualSize };
    const reads = orderedReads(this.jobs(), READ_DEPTH, (job) => this.fetch(job), ({ bytes }) => bytes && release(bytes));
    for await (const { job, bytes } of reads) {
      if (job.kind === 'run') {
        if (this.wholeRun(job, bytes!)) {
          yield { kind: 'data', index: job.guest, bytes: bytes! };
          continue;
        }
        try {
          for (let k = 0; k < job.count; k++) {
            const host = bytes!.subarray(k * this.clusterSize, (k + 1) * this.clusterSize);
            const record = await recordFor({ kind: 'data', hostOffset: job.hostOffset + k * this.clusterSize }, job.guest + k, host, this.context);
            if (record?.bytes === host) retain(host);
            if (record) yield record;
          }
        } finally {
          release(bytes!);
        }
      } else if (job.kind === 'streams') {
        // One reference for each stream of the buffer.
        retain(bytes!, job.guests.length - 1);
        for (const [i, guest] of job.guests.entries()) {
          const start = job.starts[i]! - job.from;
          yield { kind: 'compressed', index: guest, bytes: bytes!.subarray(start, start + job.lengths[i]!), algorithm: this.head.compression };
        }
      } else if (job.kind === 'one') {
        const record = await recordFor(job.mapping, job.guest, bytes, this.context);
        if (bytes && record?.bytes !== bytes) release(bytes);
        if (record) yield record;
      } else if (this.context.backing) {
        for (let guest = job.from; guest < job.to; guest++) {
          const record = await recordFor({ kind: 'absent' }, guest, undefined, this.context);
          if (record) yield record;
        }
      }
    }
    yield { kind: 'end', virtualSize: this.virtualSize };
  }

  /** Guest bytes, for use as a backing image. */
  async read(offset: number, length: number): Promise<Uint8Array | undefined> {
    const out = new Uint8Array(length);
    let any = false;
    for (let at = offset; at < offset + length; ) {
      const guest = Math.floor(at / this.clusterSize);
      const within = at - guest * this.clusterSize;
      const take = Math.min(this.clusterSize - within, offset + length - at);
      if (guest < this.guestCount) {
        const table = await this.table(Math.floor(guest / this.l2Entries));
        const mapping: ClusterMapping = table ? this.mappingIn(table, guest) : { kind: 'absent' };
        const { bytes } = await this.fetch({ kind: 'one', guest, mapping });
        try {
          const record = await recordFor(mapping, guest, bytes, this.context);
          if (record) {
            const cluster = record.kind === 'compressed' ? inflateRecord(record, this.clusterSize, this.virtualSize, this.codecs) : record.kind === 'data' ? record.bytes : undefined;
            if (cluster) {
              out.set(cluster.subarray(within, within + take), at - offset);
              any = true;
            }
          }
        } finally {
          if (bytes) release(bytes);
        }
      }
      at += take;
    }
    return any && !isAllZero(out) ? out : undefined;
  }
}
