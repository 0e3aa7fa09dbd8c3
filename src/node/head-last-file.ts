/**
 * A qcow2 file written head last: the data region goes straight into the file behind a head
 * region reserved for the worst case (worstCaseHeadLength), and the header and tables are
 * written in front of it at the end. One pass, no spool. What the tables do not use of the
 * reservation stays a hole, unreferenced (refcount 0), so the layout differs from a piped
 * image's (the content never does). The reservation is only made when the virtual size is
 * known up front and it is at most `maxReservation` (default 64 MiB, enough for about
 * 400 GiB with 64 KiB clusters); otherwise, or on a destination that cannot seek, the data
 * region waits in a spool and the image is written in order, as a pipe would get it.
 */
import { ftruncate } from 'node:fs';
import { promisify } from 'node:util';
import { LimitError } from '../errors.js';
import { worstCaseHeadLength, type ImageOptions } from '../format/layout.js';
import type { HeadLastSegment } from '../stages/qcow2-head-last-writer.js';
import { onDestination, writeAll } from './file-sink.js';
import { tempFileSpool, type TempFileSpoolOptions } from './temp-file-spool.js';

export const DEFAULT_MAX_RESERVATION = 64 * 1024 * 1024;

export interface HeadLastFileOptions extends TempFileSpoolOptions {
  /** The largest head region reserved in front of the data (see above). */
  maxReservation?: number;
  /** Told the image's length once the head is planned. */
  onLength?: (length: number) => void;
}

/** The first `limit` bytes of `chunks`. */
function* firstBytes(chunks: Iterable<Uint8Array>, limit: number): Generator<Uint8Array> {
  let left = limit;
  for (const chunk of chunks) {
    if (left <= 0) return;
    yield chunk.length <= left ? chunk : chunk.subarray(0, left);
    left -= chunk.length;
  }
}

/** How far in the data region starts, or undefined to write in order instead. */
function reservationFor(begin: Extract<HeadLastSegment, { kind: 'begin' }>, image: ImageOptions, seekable: boolean, max: number): number | undefined {
  if (!seekable || begin.virtualSize === undefined) return undefined;
  try {
    const worst = worstCaseHeadLength(image, begin.virtualSize);
    return worst <= max ? worst : undefined;
  } catch (error) {
    if (error instanceof LimitError) return undefined; // the full image could not exist; this one may
    throw error;
  }
}

/** Writes a head-last stream to `fd` (named `path` in errors); returns the image's length. */
export async function writeHeadLastFile(fd: number, path: string, segments: AsyncIterable<HeadLastSegment>, image: ImageOptions, seekable: boolean, options: HeadLastFileOptions = {}): Promise<number> {
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
    const reserved = reservationFor(first.value, image, seekable, options.maxReservation ?? DEFAULT_MAX_RESERVATION);

    if (reserved !== undefined) {
      await writeAll(fd, data(), path, undefined, reserved);
      if (!head) throw new Error('internal: the head-last stream ended without its head');
      const { layout, chunks } = head.plan(reserved);
      if (layout.dataOffset !== reserved) throw new Error(`internal: the head needs ${layout.dataOffset} bytes, over the ${reserved} reserved`);
      options.onLength?.(layout.totalLength);
      await writeAll(fd, firstBytes(chunks, layout.metadataEnd), path, undefined, 0);
      // The reservation's tail stays a hole; an image with no data ends where the head does.
      await onDestination(path, 'write', () => promisify(ftruncate)(fd, layout.totalLength));
      return layout.totalLength;
    }

    const spool = await tempFileSpool(options)();
    try {
      for await (const bytes of data()) await spool.write(bytes);
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
