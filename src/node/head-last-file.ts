/**
 * A qcow2 file written head last: the data region goes straight into the file behind a head
 * region reserved for the head the writer expects (exact when the source's map is known up
 * front, the worst case for the virtual size otherwise), and the header and tables are
 * written in front of it at the end. One pass, no spool.
 *
 * The file comes out byte for byte the image a pipe gets: where the head turns out shorter
 * (or longer) than reserved, the data region is moved to where the in-order layout puts it
 * before the head is written. That costs one read and write of the data inside the file,
 * still less than a spool (write, read back, write), and only when the guess was off: a
 * sparse disk whose L1 maps little, or a stream whose virtual size was given but whose map
 * was not. The reservation is only made when the virtual size is known up front and it is
 * at most `maxReservation` (default 64 MiB, about 400 GiB of disk at 64 KiB clusters);
 * otherwise, or on a destination that cannot seek, the data region waits in a spool.
 */
import { ftruncate } from 'node:fs';
import { promisify } from 'node:util';
import type { HeadLastSegment } from '../stages/qcow2-head-last-writer.js';
import { IoError } from '../errors.js';
import { release } from '../stages/buffer-pool.js';
import { onDestination, writeAll } from './file-sink.js';
import { readFully } from './positional-io.js';
import { tempFileSpool, type TempFileSpoolOptions } from './temp-file-spool.js';

export const DEFAULT_MAX_RESERVATION = 64 * 1024 * 1024;

export interface HeadLastFileOptions extends TempFileSpoolOptions {
  /** The largest head region reserved in front of the data (see above). */
  maxReservation?: number;
  /** Told the image's length once the head is planned. */
  onLength?: (length: number) => void;
}

/** How far in the data region starts, or undefined to write in order instead. */
function reservationFor(begin: Extract<HeadLastSegment, { kind: 'begin' }>, seekable: boolean, max: number): number | undefined {
  const expected = begin.expectedHeadLength;
  return seekable && expected !== undefined && expected <= max ? expected : undefined;
}

/** Bytes moved at a time when the data region has to shift. */
const MOVE_CHUNK = 4 * 1024 * 1024;

/**
 * Moves `length` bytes at `from` to `to` within the file. Chunks go in the order that never
 * overwrites bytes still to be read: ascending when moving down, descending when moving up.
 */
async function moveRegion(fd: number, path: string, from: number, to: number, length: number): Promise<void> {
  const buffer = Buffer.allocUnsafe(Math.min(MOVE_CHUNK, length));
  const chunks = Math.ceil(length / buffer.length);
  for (let k = 0; k < chunks; k++) {
    const i = to < from ? k : chunks - 1 - k;
    const at = i * buffer.length;
    const size = Math.min(buffer.length, length - at);
    const got = await onDestination(path, 'read back', () => readFully(fd, buffer, size, from + at));
    if (got !== size) throw new IoError(`reading back '${path}': the data region ends ${length - at - got} bytes early`, { path });
    await writeAll(fd, [buffer.subarray(0, size)], path, to + at);
  }
}

/** Writes a head-last stream to `fd` (named `path` in errors); returns the image's length. */
export async function writeHeadLastFile(fd: number, path: string, segments: AsyncIterable<HeadLastSegment>, seekable: boolean, options: HeadLastFileOptions = {}): Promise<number> {
  const iterator = segments[Symbol.asyncIterator]();
  try {
    const first = await iterator.next();
    if (first.done || first.value.kind !== 'begin') throw new Error('internal: a head-last stream opens with its begin segment');
    let head: Extract<HeadLastSegment, { kind: 'head' }> | undefined;
    const data = async function* (): AsyncGenerator<Uint8Array> {
      for (let step = await iterator.next(); !step.done; step = await iterator.next()) {
        if (step.value.kind === 'data') yield step.value.bytes;
        else if (step.value.kind === 'head') return void (head = step.value);
      }
    };
    const reserved = reservationFor(first.value, seekable, options.maxReservation ?? DEFAULT_MAX_RESERVATION);

    if (reserved !== undefined) {
      await writeAll(fd, data(), path, reserved);
      if (!head) throw new Error('internal: the head-last stream ended without its head');
      const { layout, chunks } = head.plan(0);
      options.onLength?.(layout.totalLength);
      if (layout.dataOffset !== reserved) await moveRegion(fd, path, reserved, layout.dataOffset, head.dataLength);
      await writeAll(fd, chunks, path, 0);
      // Moved down, the region leaves its old tail behind; an image with no data ends where the head does.
      await onDestination(path, 'write', () => promisify(ftruncate)(fd, layout.totalLength));
      return layout.totalLength;
    }

    const spool = await tempFileSpool(options)();
    try {
      for await (const bytes of data()) {
        await spool.write(bytes);
        release(bytes);
      }
      if (!head) throw new Error('internal: the head-last stream ended without its head');
      const { layout, chunks } = head.plan(0);
      options.onLength?.(layout.totalLength);
      await writeAll(fd, chunks, path);
      await writeAll(fd, spool.read(), path);
      return layout.totalLength;
    } finally {
      await spool.close();
    }
  } finally {
    await iterator.return?.();
  }
}
