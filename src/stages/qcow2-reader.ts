/**
 * The streaming qcow2 reader: host bytes in, strictly forward, guest clusters out, in guest
 * order. It never seeks, so it learns what each host cluster is as the tables arrive: L1
 * names L2 tables, L2 tables name data clusters and compressed streams.
 *
 * - Bytes whose role is not yet known (before the tables that name them) wait in the
 *   `unknown` store, by host cluster. Once the L1 table and every L2 table it names have
 *   been read, every needed cluster is known and the rest is dropped.
 * - Data that arrives before the guest clusters ahead of it can be emitted waits in the
 *   `parked` store, by guest cluster.
 * For images whose tables precede their data in guest order (ours, qemu-img convert's)
 * nothing waits: each cluster is emitted as it passes.
 */
import { FormatError, UnsupportedError } from '../errors.js';
import { DEFAULT_LIMITS, resolveLimits, type Limits } from '../limits.js';
import { clusterMapping, hostBytesNeeded, l2EntriesOf, type ClusterMapping } from '../format/cluster-mapping.js';
import { L1_ENTRY_SIZE } from '../format/constants.js';
import { guestClusters } from '../format/geometry.js';
import { assertReadable, parseImageHead, type ImageHead } from '../format/image-head.js';
import { readL1Entry } from '../format/l1-entry.js';
import { readRefcount, refcountsPerBlock } from '../format/refcount-block.js';
import { SnapshotTableParser } from '../format/snapshot-table.js';
import { viewOf } from '../format/uint64.js';
import { ByteCursor } from './byte-cursor.js';
import type { ClusterRecord } from './clusters.js';
import type { BackingOpener } from './guest-image.js';
import { needsHostBytes, recordFor, type GuestContext } from './guest-records.js';
import { MemoryKeyedStore, type KeyedStore, type KeyedStoreFactory } from './keyed-store.js';
import { BufferPool, release, retain, sharedBufferPool } from './buffer-pool.js';
import { copyBytes } from './bytes.js';
import { WantedHeap, type Wanted } from './wanted-heap.js';

export interface Qcow2ReaderOptions {
  /** Where out-of-order bytes wait. Default: memory, unbounded. */
  store?: KeyedStoreFactory;
  /** Opens the backing image; without one, an image that names a backing file is refused. */
  openBacking?: BackingOpener;
  /** Called once cluster 0 is parsed, before any record. */
  onHead?: (head: ImageHead) => void;
  /** The dirty and corrupt bits, and the like: reading goes on. */
  onWarning?: (message: string) => void;
  /** Caps on what the image may ask for (see limits.ts); the store brings its own spool caps. */
  limits?: Partial<Limits>;
  /** Where compressed streams and clusters joined across chunks go. Default: the shared pool. */
  pool?: BufferPool;
}

/** Bytes read before the cluster size is known: enough for any header, no more than the smallest cluster. */
const PROBE = 512;
/** A compressed stream may end up to one sector past the end of the file. */
const COMPRESSED_SLACK = 512;

const hostKey = (cluster: number): string => `h${cluster}`;
const guestKey = (guest: number): string => `g${guest}`;

export function refuseBacking(head: ImageHead): UnsupportedError {
  return new UnsupportedError(
    'backing file',
    `the image has a backing file '${head.backingFile}'; give it with --backing PATH (or a backing opener) to read through it`,
  );
}

/** The next `n` bytes of the cursor (fewer at the end), in memory of their own. */
async function readCopy(cursor: ByteCursor, n: number): Promise<Uint8Array> {
  const bytes = await cursor.read(n);
  const copy = copyBytes(bytes);
  release(bytes);
  return copy;
}

/** Reads cluster 0: the header says how long a cluster is. */
export async function readHead(cursor: ByteCursor, limits: Limits = DEFAULT_LIMITS): Promise<{ head: ImageHead; cluster0: Uint8Array }> {
  const probe = await readCopy(cursor, PROBE);
  const clusterBits = probe.length >= 24 ? viewOf(probe).getUint32(20) : 0;
  const clusterSize = clusterBits >= 9 && clusterBits <= 21 ? 2 ** clusterBits : PROBE;
  const rest = clusterSize > probe.length ? await readCopy(cursor, clusterSize - probe.length) : new Uint8Array(0);
  const cluster0 = new Uint8Array(probe.length + rest.length);
  cluster0.set(probe);
  cluster0.set(rest, probe.length);
  return { head: parseImageHead(cluster0, limits), cluster0 };
}

class StreamingReader {
  private readonly clusterSize: number;
  private readonly l2Entries: number;
  private readonly guestCount: number;
  private readonly l1Start: number;
  private readonly l1End: number;
  private l1: DataView | undefined;
  private readonly l1Parts: Uint8Array[] = [];
  private l1Received = 0;
  /** L2 tables read, by L1 index, until their range is emitted. */
  private readonly tables = new Map<number, DataView>();
  /** L2 tables named by L1 but not reached yet: host cluster to L1 indices. */
  private readonly pendingTables = new Map<number, number[]>();
  private readonly wanted = new WantedHeap();
  /** Delivered during the current host cluster, each holding a reference; emitted at once or moved to `parked`. */
  private readonly ready = new Map<number, Uint8Array>();
  /** Host clusters consumed so far (the next one to arrive). */
  private intake = 1;
  /** Refcount blocks named by the refcount table and not reached yet: host cluster to block index. */
  private readonly refcountStructures = new Map<number, number>();
  private readonly refcountTable: { first: number; end: number };
  /** Refcount blocks read, by index: they say how many references each host cluster has. */
  private readonly refcountBlocks = new Map<number, Uint8Array>();
  /** References from compressed streams seen so far, by host cluster (streams share clusters). */
  private readonly streamReferences = new Map<number, number>();
  /** The snapshot table, checked as its bytes pass (qemu refuses an image whose table is damaged). */
  private readonly snapshots: SnapshotTableParser;
  private nextGuest = 0;

  constructor(
    private readonly head: ImageHead,
    private readonly context: GuestContext,
    private readonly unknown: KeyedStore,
    private readonly parked: KeyedStore,
    private readonly pool: BufferPool,
  ) {
    this.clusterSize = head.clusterSize;
    this.l2Entries = l2EntriesOf(head);
    this.guestCount = guestClusters(head.virtualSize, head.clusterSize);
    this.snapshots = new SnapshotTableParser(head.header.nbSnapshots);
    this.l1Start = head.header.l1TableOffset;
    const firstRefcountCluster = head.header.refcountTableOffset / head.clusterSize;
    this.refcountTable = { first: firstRefcountCluster, end: firstRefcountCluster + head.header.refcountTableClusters };
    this.l1End = this.l1Start + head.header.l1Size * L1_ENTRY_SIZE;
    if (head.header.l1Size === 0) this.l1 = new DataView(new ArrayBuffer(0));
    else if (this.l1Start < this.clusterSize) throw new FormatError('l1_table_offset', 'the L1 table overlaps the header cluster', 40);
  }

  /** Every guest cluster emitted and the snapshot table checked: the rest of the input is not needed. */
  get done(): boolean {
    return this.nextGuest >= this.guestCount && this.snapshots.done;
  }

  /** Passes bytes at host offset `start` to the snapshot table check. */
  offerSnapshotTable(start: number, bytes: Uint8Array): void {
    const tableStart = this.head.header.snapshotsOffset;
    if (this.snapshots.done || start + bytes.length <= tableStart) return;
    this.snapshots.feed(bytes.subarray(Math.max(0, tableStart - start)));
  }

  private get tablesComplete(): boolean {
    return this.l1 !== undefined && this.pendingTables.size === 0;
  }

  /**
   * Takes host cluster number `this.intake` (a short one only at end of input) and the
   * reference `bytes` holds: what is delivered from it holds references of its own, what is
   * kept is copied.
   */
  async consume(bytes: Uint8Array): Promise<void> {
    try {
      await this.consumeCluster(bytes);
    } finally {
      release(bytes);
    }
  }

  private async consumeCluster(bytes: Uint8Array): Promise<void> {
    const cluster = this.intake;
    const start = cluster * this.clusterSize;
    const end = start + bytes.length;
    let claimed = false;

    if (!this.l1 && start < this.l1End && end > this.l1Start) {
      claimed = true;
      const from = Math.max(start, this.l1Start) - start;
      const to = Math.min(end, this.l1End) - start;
      this.l1Parts.push(copyBytes(bytes, from, to));
      this.l1Received += to - from;
      if (this.l1Received === this.l1End - this.l1Start) await this.onL1(cluster);
    }

    const l1Indices = this.pendingTables.get(cluster);
    if (l1Indices) {
      claimed = true;
      this.pendingTables.delete(cluster);
      if (bytes.length < this.clusterSize) throw this.pastEnd(`L1 entry ${l1Indices[0]}`, 'its L2 table', start, end);
      for (const l1Index of l1Indices) await this.onL2(l1Index, bytes, cluster);
    }

    let sharedWithStreams = false;
    for (let item = this.wanted.peek(); item && item.next < end; item = this.wanted.peek()) {
      this.wanted.pop();
      claimed = true;
      if (item.kind === 'compressed') {
        sharedWithStreams = true;
        this.noteStreamReference(cluster);
      }
      await this.deliver(item, start, bytes);
    }

    if (cluster >= this.refcountTable.first && cluster < this.refcountTable.end) {
      claimed = true;
      this.noteRefcountBlocks(bytes, (cluster - this.refcountTable.first) * (this.clusterSize / 8));
    }
    const block = this.refcountStructures.get(cluster);
    if (block !== undefined) {
      claimed = true;
      this.refcountStructures.delete(cluster);
      this.refcountBlocks.set(block, copyBytes(bytes));
    }

    // A cluster holding compressed streams may hold the start of one a later table names
    // (qemu packs streams across the clusters it allocates L2 tables in): it is kept until
    // its refcount says every reference to it has been seen.
    const keep = !claimed || (sharedWithStreams && !this.allReferencesSeen(cluster));
    if (keep && !this.tablesComplete) {
      retain(bytes);
      await this.unknown.put(hostKey(cluster), bytes);
    }
    this.offerSnapshotTable(start, bytes);
    if (this.tablesComplete && this.unknown.size > 0) this.unknown.keepOnly(() => false);
    this.intake++;
  }

  /**
   * The refcount table names the refcount blocks: clusters a reader can pass by without
   * keeping, so an image whose refcount structures precede its L1 table (ours, qemu's) never
   * waits for anything. Only offsets still ahead matter; damage here is not ours to judge.
   */
  private noteRefcountBlocks(bytes: Uint8Array, firstIndex: number): void {
    const view = viewOf(bytes);
    for (let at = 0; at + 8 <= bytes.length; at += 8) {
      const offset = view.getUint32(at) * 2 ** 32 + view.getUint32(at + 4);
      if (offset !== 0 && offset % this.clusterSize === 0 && offset / this.clusterSize > this.intake) {
        this.refcountStructures.set(offset / this.clusterSize, firstIndex + at / 8);
      }
    }
  }

  private noteStreamReference(hostCluster: number): void {
    this.streamReferences.set(hostCluster, (this.streamReferences.get(hostCluster) ?? 0) + 1);
  }

  /**
   * Whether every reference the refcount blocks count for a host cluster has been seen.
   * Unknown refcounts, or an image marked dirty (whose refcounts may lag), say no.
   */
  private allReferencesSeen(hostCluster: number): boolean {
    if (this.head.dirty) return false;
    const perBlock = refcountsPerBlock(this.clusterSize, this.head.header.refcountOrder);
    const block = this.refcountBlocks.get(Math.floor(hostCluster / perBlock));
    if (!block) return false;
    const refcount = readRefcount(block, hostCluster % perBlock, this.head.header.refcountOrder);
    return (this.streamReferences.get(hostCluster) ?? 0) >= refcount;
  }

  private async onL1(cluster: number): Promise<void> {
    const bytes = new Uint8Array(this.l1Received);
    let at = 0;
    for (const part of this.l1Parts.splice(0)) {
      bytes.set(part, at);
      at += part.length;
    }
    const l1 = viewOf(bytes);
    this.l1 = l1;
    const usable = Math.min(this.head.header.l1Size, Math.ceil(this.guestCount / this.l2Entries));
    for (let i = 0; i < usable; i++) {
      const { l2Offset } = readL1Entry(l1, i);
      if (l2Offset === 0) continue;
      if (l2Offset % this.clusterSize !== 0) throw new FormatError(`L1 entry ${i}`, `L2 table offset ${l2Offset} is not cluster aligned`);
      const tableCluster = l2Offset / this.clusterSize;
      if (tableCluster < cluster) {
        const table = await this.unknown.get(hostKey(tableCluster));
        if (!table) throw new FormatError(`L1 entry ${i}`, `L2 table at byte ${l2Offset} overlaps the header or another table`);
        try {
          await this.onL2(i, table, cluster + 1);
        } finally {
          release(table);
        }
      } else if (tableCluster === cluster) {
        throw new FormatError(`L1 entry ${i}`, `L2 table at byte ${l2Offset} overlaps the L1 table`);
      } else {
        const list = this.pendingTables.get(tableCluster);
        if (list) list.push(i);
        else this.pendingTables.set(tableCluster, [i]);
      }
    }
  }

  /**
   * An L2 table has arrived (or was found among the unknown clusters). Clusters before
   * `passedBefore` have gone by: what the table needs from them comes from `unknown`; the rest
   * is wanted from the input.
   */
  private async onL2(l1Index: number, bytes: Uint8Array, passedBefore: number): Promise<void> {
    const table = viewOf(copyBytes(bytes));
    this.tables.set(l1Index, table);
    const first = l1Index * this.l2Entries;
    const count = Math.min(this.l2Entries, this.guestCount - first);
    let run: Wanted | undefined;
    for (let j = 0; j < count; j++) {
      const guest = first + j;
      const mapping = clusterMapping(table, j, this.head, guest);
      if (!needsHostBytes(mapping)) continue;
      if (mapping.kind === 'data') {
        const hostCluster = mapping.hostOffset / this.clusterSize;
        if (hostCluster < passedBefore) {
          const host = await this.unknown.get(hostKey(hostCluster));
          if (!host) throw this.overlap(guest, mapping.hostOffset);
          await this.parked.put(guestKey(guest), host);
          continue;
        }
        const needed = hostBytesNeeded(mapping, this.clusterSize);
        if (run?.kind === 'data' && needed === this.clusterSize && run.needed === needed && run.next + run.remaining * this.clusterSize === mapping.hostOffset && run.guest + run.remaining === guest) {
          run.remaining++;
          continue;
        }
        if (run) this.wanted.push(run);
        run = { kind: 'data', next: mapping.hostOffset, guest, remaining: 1, needed };
        continue;
      }
      await this.wantStream(mapping as Extract<ClusterMapping, { kind: 'compressed' }>, guest, passedBefore);
    }
    if (run) this.wanted.push(run);
  }

  private async wantStream(mapping: { hostOffset: number; length: number }, guest: number, passedBefore: number): Promise<void> {
    const { hostOffset: start, length } = mapping;
    const end = start + length;
    const passed = passedBefore * this.clusterSize;
    let buffer: Uint8Array | undefined;
    // The part of the stream that has gone by is among the unknown clusters.
    for (let at = start; at < Math.min(end, passed); ) {
      const hostCluster = Math.floor(at / this.clusterSize);
      const host = await this.unknown.get(hostKey(hostCluster));
      if (!host) throw this.overlap(guest, start);
      const clusterStart = hostCluster * this.clusterSize;
      const to = Math.min(end, passed, clusterStart + host.length);
      if (to <= at) {
        release(host);
        throw this.overlap(guest, start);
      }
      buffer ??= this.pool.take(length);
      buffer.set(host.subarray(at - clusterStart, to - clusterStart), at - start);
      release(host);
      this.noteStreamReference(hostCluster);
      if (this.allReferencesSeen(hostCluster)) this.unknown.delete(hostKey(hostCluster));
      at = to;
    }
    if (end <= passed) await this.parked.put(guestKey(guest), buffer!);
    else this.wanted.push({ kind: 'compressed', next: Math.max(start, passed), start, end, guest, buffer });
  }

  private async deliver(item: Wanted, start: number, bytes: Uint8Array): Promise<void> {
    const end = start + bytes.length;
    if (item.kind === 'data') {
      if (bytes.length < item.needed) throw this.pastEnd(`L2 entry for guest cluster ${item.guest}`, 'its data cluster', item.next, end);
      if (bytes.length < this.clusterSize) {
        const whole = new Uint8Array(this.clusterSize); // the unallocated subclusters past the end of the file
        whole.set(bytes);
        bytes = whole;
      }
      retain(bytes);
      this.ready.set(item.guest, bytes);
      if (--item.remaining > 0) {
        item.guest++;
        item.next += this.clusterSize;
        this.wanted.push(item);
      }
      return;
    }
    const to = Math.min(item.end, end);
    item.buffer ??= this.pool.take(item.end - item.start);
    item.buffer.set(bytes.subarray(item.next - start, to - start), item.next - item.start);
    item.next = to;
    if (item.next === item.end) this.ready.set(item.guest, item.buffer);
    else this.wanted.push(item);
  }

  /** Emits every guest cluster that can be emitted now, in order. */
  async *drain(): AsyncGenerator<ClusterRecord> {
    const l1 = this.l1;
    while (l1 && this.nextGuest < this.guestCount) {
      const guest = this.nextGuest;
      const l1Index = Math.floor(guest / this.l2Entries);
      const { l2Offset } = readL1Entry(l1, l1Index);
      if (l2Offset === 0) {
        const rangeEnd = Math.min((l1Index + 1) * this.l2Entries, this.guestCount);
        if (this.context.backing) {
          for (let g = guest; g < rangeEnd; g++) {
            const record = await recordFor({ kind: 'absent' }, g, undefined, this.context);
            if (record) yield record;
          }
        }
        this.nextGuest = rangeEnd;
        continue;
      }
      const table = this.tables.get(l1Index);
      if (!table) break;
      const mapping = clusterMapping(table, guest % this.l2Entries, this.head, guest);
      let host: Uint8Array | undefined;
      if (needsHostBytes(mapping)) {
        host = this.ready.get(guest);
        if (host) this.ready.delete(guest);
        else host = await this.parked.take(guestKey(guest));
        if (!host) break;
      }
      const record = await recordFor(mapping, guest, host, this.context);
      if (host && record?.bytes !== host) release(host);
      if (record) yield record;
      this.nextGuest++;
      if (this.nextGuest % this.l2Entries === 0) this.tables.delete(l1Index);
    }
    // What arrived ahead of its turn waits in the store.
    for (const [guest, bytes] of this.ready) {
      this.ready.delete(guest);
      await this.parked.put(guestKey(guest), bytes);
    }
  }

  /** At end of input: everything still wanted is truncation, but a compressed stream may end a sector past it. */
  async finish(): Promise<void> {
    const inputEnd = this.intake * this.clusterSize; // an upper bound; the last cluster may be short
    // qemu reads zeros past the end of the file: so does the snapshot table check.
    for (const zeros = new Uint8Array(4096); !this.snapshots.done; ) this.snapshots.feed(zeros);
    if (!this.l1) throw new FormatError('l1_table_offset', `the L1 table at byte ${this.l1Start} lies past the end of input`, 40);
    for (const [cluster, l1Indices] of this.pendingTables) {
      throw new FormatError(`L1 entry ${l1Indices[0]}`, `L2 table at byte ${cluster * this.clusterSize} lies past the end of input`);
    }
    for (const item of this.wanted.drainAll()) {
      if (item.kind === 'compressed' && item.buffer && item.end - item.next <= COMPRESSED_SLACK) {
        await this.parked.put(guestKey(item.guest), item.buffer); // the tail reads as zeros
        continue;
      }
      const guest = item.guest;
      throw new FormatError(`L2 entry for guest cluster ${guest}`, `host offset ${item.kind === 'data' ? item.next : item.start} lies past the end of input (at most ${inputEnd} bytes)`);
    }
  }

  private overlap(guest: number, hostOffset: number): FormatError {
    return new FormatError(`L2 entry for guest cluster ${guest}`, `host offset ${hostOffset} overlaps the header or a table`);
  }

  private pastEnd(field: string, what: string, at: number, inputEnd: number): FormatError {
    return new FormatError(field, `${what} at byte ${at} runs past the end of input (${inputEnd} bytes)`);
  }
}

/** The reader stage: qcow2 bytes in, cluster records out. */
export function readQcow2(options: Qcow2ReaderOptions = {}): (source: AsyncIterable<Uint8Array>) => AsyncGenerator<ClusterRecord> {
  const pool = options.pool ?? sharedBufferPool();
  return async function* qcow2Reader(source) {
    const cursor = new ByteCursor(source, pool);
    const newStore = options.store ?? (() => new MemoryKeyedStore(resolveLimits(options.limits).spoolMemory));
    const stores: KeyedStore[] = [];
    let backing: GuestContext['backing'];
    try {
      const { head, cluster0 } = await readHead(cursor, resolveLimits(options.limits));
      options.onHead?.(head);
      assertReadable(head);
      for (const warning of head.warnings) options.onWarning?.(warning);
      if (head.backingFile !== undefined) {
        if (!options.openBacking) throw refuseBacking(head);
        backing = await options.openBacking(head.backingFile, head.backingFormat, 1);
      }
      const unknown = newStore();
      const parked = newStore();
      stores.push(unknown, parked);
      const context: GuestContext = { clusterSize: head.clusterSize, virtualSize: head.virtualSize, algorithm: head.compression, backing };
      const reader = new StreamingReader(head, context, unknown, parked, pool);
      reader.offerSnapshotTable(0, cluster0);
      yield { kind: 'begin', clusterSize: head.clusterSize, virtualSize: head.virtualSize };
      yield* reader.drain();
      while (!reader.done) {
        const bytes = await cursor.read(head.clusterSize);
        if (bytes.length === 0) {
          await reader.finish();
          yield* reader.drain();
          break;
        }
        await reader.consume(bytes);
        yield* reader.drain();
      }
      if (!reader.done) throw new FormatError('image', 'the input ended before every guest cluster could be read');
      // The rest (snapshots, bitmaps, leaked clusters) is read and dropped, so a producer
      // upstream of a pipe sees its output consumed rather than a broken pipe.
      await cursor.skipToEnd();
      yield { kind: 'end', virtualSize: head.virtualSize };
    } finally {
      await cursor.close();
      for (const store of stores) await store.close();
      await backing?.close();
    }
  };
}
