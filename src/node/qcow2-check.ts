/**
 * `check`: recompute every refcount of a qcow2 file from the structures that reference its
 * clusters (header, refcount table and blocks, active and snapshot L1/L2 tables and their
 * data, the snapshot table, persistent bitmaps) and compare with the stored ones, as
 * qemu-img check does: a stored refcount below the references is corruption, above them a
 * leak; a reference past the end of the file is a check error; the copied flag must say
 * "refcount is 1". The verdicts and exit codes are qemu-img check's.
 */
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { LimitError } from '../errors.js';
import { AUTOCLEAR_BITMAPS, EXTENDED_L2_ENTRY_SIZE, EXT_BITMAPS, L1_ENTRY_SIZE, L2_ENTRY_SIZE, REFCOUNT_TABLE_ENTRY_SIZE, SECTOR_SIZE } from '../format/constants.js';
import { guestClusters } from '../format/geometry.js';
import { decodeExtensions } from '../format/header-extensions.js';
import { assertReadable, type ImageHead } from '../format/image-head.js';
import { inspectL1Entry } from '../format/l1-entry.js';
import { inspectL2Entry, readSubclusterBitmap } from '../format/l2-entry.js';
import { readRefcount, refcountsPerBlock } from '../format/refcount-block.js';
import { inspectRefcountTableEntry } from '../format/refcount-table.js';
import { SnapshotTableParser } from '../format/snapshot-table.js';
import { resolveLimits, type Limits } from '../limits.js';
import { openForReading, readImageHead } from './image-file.js';
import { ioError } from './io-error.js';
import { writeAll } from './file-sink.js';
import { readFully } from './positional-io.js';
import { createUnlinkedTempFile } from './unlinked-temp-file.js';

export interface CheckReport {
  filename: string;
  format: 'qcow2';
  'check-errors': number;
  corruptions: number;
  leaks: number;
  'image-end-offset': number;
  'total-clusters': number;
  'allocated-clusters': number;
  'fragmented-clusters': number;
  'compressed-clusters': number;
  /** One line per problem, worded like qemu-img check's. */
  messages: string[];
}

/** qemu-img check's exit status: 0 clean, 1 the check could not complete, 2 corruption, 3 leaks only. */
export function checkExitCode(report: CheckReport): number {
  if (report['check-errors'] > 0) return 1;
  if (report.corruptions > 0) return 2;
  if (report.leaks > 0) return 3;
  return 0;
}

const HI = 2 ** 32;

/**
 * Host clusters check counts references for, at 4 bytes each: 2^28 (1 GiB of counters) is a
 * 16 TiB file of 64 KiB clusters or 128 GiB of 512-byte ones. Past it, the counters alone
 * would not be allocatable (or the comparison would run for hours over a sparse file).
 */
export const MAX_CHECKED_CLUSTERS = 2 ** 28;

/** The 64-bit table entry at byte `at`, in hex as qemu prints it. */
function hex64(view: DataView, at: number): string {
  return `${view.getUint32(at).toString(16)}${view.getUint32(at + 4).toString(16).padStart(8, '0')}`;
}

class Checker {
  private readonly clusterSize: number;
  private readonly clusterCount: number;
  /** References counted per host cluster of the file. */
  private readonly references: Uint32Array;
  readonly report: CheckReport;

  constructor(
    private readonly file: FileHandle,
    private readonly head: ImageHead,
    private readonly fileSize: number,
    filename: string,
    private readonly limits: Limits,
  ) {
    this.clusterSize = head.clusterSize;
    this.clusterCount = Math.ceil(fileSize / this.clusterSize);
    if (this.clusterCount + 1 > MAX_CHECKED_CLUSTERS) {
      throw new LimitError('checked clusters', `the ${fileSize}-byte file has ${this.clusterCount} clusters of ${this.clusterSize} bytes, more than check counts (${MAX_CHECKED_CLUSTERS})`);
    }
    // A reference may reach into the cluster just past the end of the file.
    this.references = new Uint32Array(this.clusterCount + 1);
    this.report = {
      filename,
      format: 'qcow2',
      'check-errors': 0,
      corruptions: 0,
      leaks: 0,
      'image-end-offset': 0,
      'total-clusters': guestClusters(head.virtualSize, head.clusterSize),
      'allocated-clusters': 0,
      'fragmented-clusters': 0,
      'compressed-clusters': 0,
      messages: [],
    };
  }

  private async read(offset: number, length: number): Promise<DataView> {
    const bytes = Buffer.alloc(length);
    await readFully(this.file.fd, bytes, Math.max(0, Math.min(length, this.fileSize - offset)), offset);
    return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /**
   * Counts one reference to every cluster of [offset, offset + length). A region reaching a
   * cluster or more past the end of the file is corruption and is not counted (as qemu).
   */
  private reference(offset: number, length: number): void {
    if (length <= 0) return;
    if (offset + length - this.fileSize >= this.clusterSize) {
      this.corrupt(`ERROR: counting reference for region exceeding the end of the file by one cluster or more: offset 0x${offset.toString(16)} size 0x${length.toString(16)}`);
      return;
    }
    const first = Math.floor(offset / this.clusterSize);
    const last = Math.floor((offset + length - 1) / this.clusterSize);
    for (let cluster = first; cluster <= last; cluster++) this.references[cluster]!++;
  }

  private corrupt(message: string): void {
    this.report.messages.push(message);
    this.report.corruptions++;
  }

  private aligned(offset: number): boolean {
    return offset % this.clusterSize === 0;
  }

  /** An L1 table (active or a snapshot's) and everything its L2 tables reference. */
  private async l1Table(offset: number, entries: number, active: boolean): Promise<Array<{ l2: number; copied: boolean; index: number }>> {
    this.reference(offset, entries * L1_ENTRY_SIZE);
    const l1 = await this.read(offset, entries * L1_ENTRY_SIZE);
    const tables: Array<{ l2: number; copied: boolean; index: number }> = [];
    for (let i = 0; i < entries; i++) {
      const { l2Offset: l2, copied, reservedBitsSet } = inspectL1Entry(l1, i);
      if (l2 === 0 && !copied && !reservedBitsSet) continue;
      if (reservedBitsSet) this.corrupt(`ERROR found L1 entry with reserved bits set: ${hex64(l1, i * L1_ENTRY_SIZE)}`);
      // As qemu: an entry with any bit set names an L2 table, at offset 0 if that is what it says.
      if (!this.aligned(l2)) {
        this.corrupt(`ERROR l2_offset=${l2.toString(16)}: Table is not cluster aligned; L1 entry corrupted`);
        continue;
      }
      this.reference(l2, this.clusterSize);
      if (l2 !== 0) tables.push({ l2, copied, index: i });
      if (l2 >= this.fileSize) continue;
      await this.l2Table(l2, active);
    }
    return tables;
  }

  /** One L2 table; fragmentation counts restart with each table, as qemu counts them. */
  private async l2Table(offset: number, active: boolean): Promise<void> {
    let nextContiguous = 0;
    const extended = this.head.extendedL2;
    const entrySize = this.l2EntrySize();
    const table = await this.read(offset, this.clusterSize);
    for (let j = 0; j < this.clusterSize / entrySize; j++) {
      const at = j * entrySize;
      const entry = inspectL2Entry(table, at, this.head.header.clusterBits);
      const bitmap = extended ? readSubclusterBitmap(table, at) : { allocated: 0, zero: 0 };
      if (entry.kind === 'compressed') {
        const { hostOffset, sectors } = entry;
        if (entry.copied) this.corrupt(`ERROR: coffset=0x${hostOffset.toString(16)}: copied flag must never be set for compressed clusters`);
        if (bitmap.allocated !== 0 || bitmap.zero !== 0) this.corrupt(`ERROR compressed cluster ${j} with non-zero subcluster allocation bitmap, entry=0x${hex64(table, at)}`);
        this.reference(hostOffset - (hostOffset % SECTOR_SIZE), sectors * SECTOR_SIZE);
        if (active) {
          this.report['allocated-clusters']++;
          this.report['compressed-clusters']++;
          this.report['fragmented-clusters']++;
        }
        continue;
      }
      if (entry.reservedBitsSet) this.corrupt(`ERROR found l2 entry with reserved bits set: ${hex64(table, at)}`);
      const { hostOffset } = entry;
      if (hostOffset === 0) {
        if (bitmap.allocated !== 0) this.corrupt('ERROR: Unallocated cluster has non-zero subcluster allocation map');
        continue;
      }
      if (!this.aligned(hostOffset)) {
        this.corrupt(`ERROR offset=${hostOffset.toString(16)}: Cluster is not properly aligned; L2 entry corrupted.`);
        continue;
      }
      this.reference(hostOffset, this.clusterSize);
      if (active) {
        this.report['allocated-clusters']++;
        if (nextContiguous !== 0 && hostOffset !== nextContiguous) this.report['fragmented-clusters']++;
        nextContiguous = hostOffset + this.clusterSize;
      }
    }
  }

  private l2EntrySize(): number {
    return this.head.extendedL2 ? EXTENDED_L2_ENTRY_SIZE : L2_ENTRY_SIZE;
  }

  /** The data clusters of L2 table entries, for the copied-flag check. */
  private async copiedFlags(tables: Array<{ l2: number; copied: boolean; index: number }>, refcount: (cluster: number) => number | undefined): Promise<void> {
    const entrySize = this.l2EntrySize();
    for (const { l2, copied, index } of tables) {
      const cluster = l2 / this.clusterSize;
      if (cluster >= this.clusterCount) continue;
      const count = refcount(cluster);
      if (count === undefined) continue;
      if ((count === 1) !== copied) this.corrupt(`ERROR OFLAG_COPIED L2 cluster: l1_index=${index} l1_entry=${l2.toString(16)} refcount=${count}`);
      const table = await this.read(l2, this.clusterSize);
      for (let j = 0; j < this.clusterSize / entrySize; j++) {
        const entry = inspectL2Entry(table, j * entrySize, this.head.header.clusterBits);
        if (entry.kind === 'compressed') continue;
        const { hostOffset } = entry;
        if (hostOffset === 0 || !this.aligned(hostOffset) || hostOffset / this.clusterSize >= this.clusterCount) continue;
        const data = refcount(hostOffset / this.clusterSize);
        if (data === undefined) continue;
        if ((data === 1) !== entry.copied) this.corrupt(`ERROR OFLAG_COPIED data cluster: l2_entry=${hex64(table, j * entrySize).padStart(16, '0')} refcount=${data}`);
      }
    }
  }

  private async snapshots(): Promise<void> {
    const { nbSnapshots, snapshotsOffset } = this.head.header;
    // qemu reads the table when it opens the image; a damaged one ends the check there.
    try {
      const table = new SnapshotTableParser(nbSnapshots);
      for (let at = snapshotsOffset; !table.done; at += 65536) {
        const chunk = await this.read(at, 65536);
        table.feed(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      }
    } catch (error) {
      this.report.messages.push(`ERROR failed to read the snapshot table: ${(error as Error).message}`);
      this.report['check-errors']++;
      return;
    }
    let at = snapshotsOffset;
    for (let i = 0; i < nbSnapshots; i++) {
      const entry = await this.read(at, 40);
      const l1Offset = entry.getUint32(0) * HI + entry.getUint32(4);
      const l1Size = entry.getUint32(8);
      const idSize = entry.getUint16(12);
      const nameSize = entry.getUint16(14);
      const extraSize = entry.getUint32(36);
      if (!this.aligned(l1Offset)) this.corrupt(`ERROR snapshot ${i} L1 table is not cluster aligned`);
      else if (l1Size * L1_ENTRY_SIZE <= this.limits.maxL1Bytes) await this.l1Table(l1Offset, l1Size, false);
      at += Math.ceil((40 + extraSize + idSize + nameSize) / 8) * 8;
    }
    this.reference(snapshotsOffset, at - snapshotsOffset);
  }

  private async bitmaps(cluster0: Uint8Array): Promise<void> {
    if (((this.head.header.autoclearFeatures >> BigInt(AUTOCLEAR_BITMAPS)) & 1n) !== 1n) return;
    const end = this.head.header.backingFileOffset !== 0 ? this.head.header.backingFileOffset : this.clusterSize;
    const extension = decodeExtensions(cluster0, this.head.header.headerLength, Math.min(end, cluster0.length)).find((e) => e.type === EXT_BITMAPS);
    if (!extension || extension.data.length < 24) return;
    const view = new DataView(extension.data.buffer, extension.data.byteOffset, extension.data.byteLength);
    const count = view.getUint32(0);
    const directorySize = view.getUint32(8) * HI + view.getUint32(12);
    const directoryOffset = view.getUint32(16) * HI + view.getUint32(20);
    this.reference(directoryOffset, directorySize);
    const directory = await this.read(directoryOffset, Math.min(directorySize, 64 * 1024 * 1024));
    let at = 0;
    for (let i = 0; i < count && at + 24 <= directory.byteLength; i++) {
      const tableOffset = directory.getUint32(at) * HI + directory.getUint32(at + 4);
      const tableSize = directory.getUint32(at + 8);
      const nameSize = directory.getUint16(at + 18);
      const extraSize = directory.getUint32(at + 20);
      this.reference(tableOffset, tableSize * 8);
      const table = await this.read(tableOffset, tableSize * 8);
      for (let k = 0; k < tableSize; k++) {
        const offset = (table.getUint32(k * 8) & 0x00ffffff) * HI + ((table.getUint32(k * 8 + 4) & 0xfffffe00) >>> 0);
        if (offset !== 0) this.reference(offset, this.clusterSize);
      }
      at += Math.ceil((24 + extraSize + nameSize) / 8) * 8;
    }
  }

  async run(cluster0: Uint8Array): Promise<CheckReport> {
    const { header } = this.head;
    this.reference(0, this.clusterSize);
    const active = await this.l1Table(header.l1TableOffset, header.l1Size, true);
    await this.snapshots();
    await this.bitmaps(cluster0);

    // The refcount table and the blocks it names.
    const tableBytes = header.refcountTableClusters * this.clusterSize;
    this.reference(header.refcountTableOffset, tableBytes);
    const table = await this.read(header.refcountTableOffset, tableBytes);
    const perBlock = refcountsPerBlock(this.clusterSize, header.refcountOrder);
    const blocks = new Map<number, Uint8Array>();
    /** Refcount blocks that cannot be read (unaligned, outside the file): their refcounts are unknown. */
    const unreadable = new Set<number>();
    for (let i = 0; i < tableBytes / REFCOUNT_TABLE_ENTRY_SIZE; i++) {
      const { blockOffset: offset, offsetInCluster, reservedBitsSet } = inspectRefcountTableEntry(table, i, this.clusterSize);
      if (reservedBitsSet) this.corrupt(`ERROR refcount table entry ${i} has reserved bits set`);
      if (offset === 0) continue;
      if (offsetInCluster !== 0) {
        this.corrupt(`ERROR refcount block ${i} is not cluster aligned; refcount table entry corrupted`);
        unreadable.add(i);
        continue;
      }
      if (offset === undefined || offset / this.clusterSize >= this.clusterCount) {
        this.corrupt(`ERROR refcount block ${i} is outside image`); // its refcounts then read as 0
        continue;
      }
      this.reference(offset, this.clusterSize);
      const block = await this.read(offset, this.clusterSize);
      blocks.set(i, new Uint8Array(block.buffer, block.byteOffset, block.byteLength));
    }
    const refcount = (cluster: number): number | undefined => {
      const index = Math.floor(cluster / perBlock);
      if (unreadable.has(index)) return undefined;
      const block = blocks.get(index);
      return block ? readRefcount(block, cluster % perBlock, header.refcountOrder) : 0;
    };

    let endCluster = 0;
    const compared = this.references[this.clusterCount]! > 0 ? this.clusterCount + 1 : this.clusterCount;
    for (let cluster = 0; cluster < compared; cluster++) {
      const stored = refcount(cluster);
      const counted = this.references[cluster]!;
      if (stored === undefined) {
        this.report.messages.push(`Can't get refcount for cluster ${cluster}: Input/output error`);
        this.report['check-errors']++;
        continue;
      }
      if (stored > 0 || counted > 0) endCluster = cluster + 1;
      if (stored === counted) continue;
      if (stored < counted) this.corrupt(`ERROR cluster ${cluster} refcount=${stored} reference=${counted}`);
      else {
        this.report.messages.push(`Leaked cluster ${cluster} refcount=${stored} reference=${counted}`);
        this.report.leaks++;
      }
    }
    await this.copiedFlags(active, refcount);
    this.report['image-end-offset'] = endCluster * this.clusterSize;
    return this.report;
  }
}

export interface CheckOptions {
  limits?: Partial<Limits>;
  /** The name the report gives (default: the path). */
  name?: string;
}

/** Checks the qcow2 file at `path`. Damage is reported, not thrown; an unreadable header throws. */
export async function checkQcow2File(path: string, options: CheckOptions = {}): Promise<CheckReport> {
  const file = await openForReading(path);
  try {
    return await checkQcow2Handle(file, { name: path, ...options });
  } finally {
    await file.close();
  }
}

/**
 * Checks a stream: it is copied into an unlinked temp file first (a check needs every table,
 * and they may come in any order), then checked there.
 */
export async function checkQcow2Stream(source: AsyncIterable<Uint8Array>, options: CheckOptions & { tempDir?: string } = {}): Promise<CheckReport> {
  const file = await createUnlinkedTempFile(options.tempDir ?? tmpdir());
  try {
    await writeAll(file.fd, source, 'the check spool');
    return await checkQcow2Handle(file, { name: '-', ...options });
  } finally {
    await file.close();
  }
}

async function checkQcow2Handle(file: FileHandle, options: CheckOptions & { name: string }): Promise<CheckReport> {
  const path = options.name;
  try {
    const fileSize = Number((await file.stat()).size);
    const limits = resolveLimits(options.limits);
    const { cluster0, head } = await readImageHead(file, fileSize, limits);
    // qemu cannot open an image with incompatible bits or an encryption method it does not
    // know, so it cannot check one; it checks AES and LUKS images, whose metadata is plain.
    if (head.unknownIncompatibleFeatures.length > 0 || head.encryption === 'unknown') assertReadable(head);
    return await new Checker(file, head, fileSize, path, limits).run(cluster0);
  } catch (error) {
    throw ioError(error, 'read', path);
  }
}
