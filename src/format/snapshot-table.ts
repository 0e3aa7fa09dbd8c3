/**
 * The internal snapshot table, checked the way qemu checks it when it opens an image (a
 * reader of the active disk ignores snapshots otherwise, but qemu refuses an image whose
 * table is damaged, and so do we). Entries: a 40-byte header, extra data, the id string and
 * the name, padded to 8 bytes. Parsed incrementally, as bytes pass.
 */
import { FormatError } from '../errors.js';

/** qemu's QCOW_MAX_SNAPSHOTS_SIZE: the whole table. */
export const MAX_SNAPSHOT_TABLE_BYTES = 64 * 1024 * 1024;
/** qemu's QCOW_MAX_SNAPSHOT_EXTRA_DATA. */
export const MAX_SNAPSHOT_EXTRA_DATA = 1024;
const ENTRY_HEADER = 40;

export class SnapshotTableParser {
  private readonly pending: Uint8Array[] = [];
  private pendingLength = 0;
  private parsed = 0;
  /** Bytes of the table consumed so far. */
  private length = 0;
  /** Bytes the current entry needs (its header first). */
  private need = ENTRY_HEADER;
  private inHeader = true;

  /** `entries` is the header's nb_snapshots, already held to the limits. */
  constructor(private readonly entries: number) {}

  get done(): boolean {
    return this.parsed >= this.entries;
  }

  /** Takes the next bytes of the table (zeros stand in for bytes past the end of the file). */
  feed(bytes: Uint8Array): void {
    let at = 0;
    while (!this.done && at < bytes.length) {
      const take = Math.min(this.need - this.pendingLength, bytes.length - at);
      if (this.inHeader) this.pending.push(bytes.subarray(at, at + take));
      this.pendingLength += take;
      at += take;
      if (this.pendingLength < this.need) break;
      this.length += this.need;
      if (this.length > MAX_SNAPSHOT_TABLE_BYTES) throw new FormatError('snapshot table', `exceeds qemu's maximum of ${MAX_SNAPSHOT_TABLE_BYTES} bytes`);
      if (this.inHeader) {
        const header = join(this.pending, ENTRY_HEADER);
        const view = new DataView(header.buffer);
        const idSize = view.getUint16(12);
        const nameSize = view.getUint16(14);
        const extraSize = view.getUint32(36);
        if (extraSize > MAX_SNAPSHOT_EXTRA_DATA) throw new FormatError('snapshot table', `entry ${this.parsed} has ${extraSize} bytes of extra data, over ${MAX_SNAPSHOT_EXTRA_DATA}`);
        const body = extraSize + idSize + nameSize;
        const padded = Math.ceil((ENTRY_HEADER + body) / 8) * 8 - ENTRY_HEADER;
        this.inHeader = false;
        this.need = padded;
      } else {
        this.inHeader = true;
        this.need = ENTRY_HEADER;
        this.parsed++;
      }
      this.pending.length = 0;
      this.pendingLength = 0;
      if (!this.inHeader && this.need === 0) {
        this.inHeader = true;
        this.need = ENTRY_HEADER;
        this.parsed++;
      }
    }
  }
}

function join(parts: Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
