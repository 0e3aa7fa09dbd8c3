/**
 * Chunks written to an inherited pipe or socket (stdout), each chunk's reference released
 * once the kernel has taken it (see stages/buffer-pool.ts). A pipe's capacity is raised first
 * (pipe-capacity.ts).
 *
 * A blocking descriptor, which is what a shell's pipe is, is written with gathered writes of
 * about 4 MiB from the thread pool, one in flight while the next gathers: copying into the
 * pipe (a third of a second per gigabyte here) then costs the main thread nothing, and a full
 * pipe blocks a pool thread, not the conversion. A descriptor someone made non-blocking says
 * EAGAIN instead; from then on the rest goes through libuv, which polls it (net.Socket), so
 * nothing spins. Either way about two batches at most wait beyond what the kernel holds: a
 * slow reader slows the producer, memory stays flat.
 */
import type { Socket } from 'node:net';
import { release } from '../stages/buffer-pool.js';
import { ioError } from './io-error.js';
import { GatheredWrites } from './gathered-writes.js';
import { raisePipeCapacity } from './pipe-capacity.js';
import { remainderAfter, writeChunks } from './positional-io.js';

/** Bytes gathered into one writev. */
const WRITE_BATCH = 4 * 1024 * 1024;

/** What of a batch is left when the descriptor said EAGAIN: the views still to write, and the chunks whose references they hold. */
interface Unwritten {
  views: Uint8Array[];
  holders: Uint8Array[];
}

/** Thrown by a thread-pool write that met EAGAIN, with what it did not write. */
class WouldBlock extends Error {
  constructor(readonly unwritten: Unwritten) {
    super('EAGAIN');
  }
}

/**
 * Writes from the thread pool, one batch in flight while the next gathers, until the
 * descriptor says EAGAIN; returns the bytes written and what is left to write, in order.
 */
async function writeBlocking(fd: number, chunks: AsyncIterator<Uint8Array>, label: string): Promise<{ total: number; unwritten: Unwritten[] }> {
  let total = 0;
  const writes = new GatheredWrites(async (batch) => {
    let pending = batch;
    while (pending.length > 0) {
      let written: number;
      try {
        written = await writeChunks(fd, pending);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EAGAIN') throw new WouldBlock({ views: pending, holders: batch });
        throw ioError(error, 'write', label);
      }
      if (written === 0) throw ioError(Object.assign(new Error('write returned 0'), { code: 'EIO' }), 'write', label);
      total += written;
      pending = remainderAfter(pending, written);
    }
    for (const chunk of batch) release(chunk);
  }, WRITE_BATCH);
  try {
    for (let step = await chunks.next(); !step.done; step = await chunks.next()) await writes.add(step.value);
    await writes.finish();
    return { total, unwritten: [] };
  } catch (error) {
    if (!(error instanceof WouldBlock)) throw error;
    const rest = await writes.abandon();
    return { total, unwritten: [error.unwritten, { views: rest, holders: rest }] };
  }
}

/** Resolves once the socket has written what it queued, or has failed or closed (the error is reported by its listener). */
function drained(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      socket.off('drain', done);
      socket.off('close', done);
      socket.off('error', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
    socket.on('error', done);
  });
}

/** Writes through libuv, which polls the descriptor: first what the thread pool could not write, then the rest. */
async function writePolled(fd: number, left: Unwritten[], chunks: AsyncIterator<Uint8Array>, label: string): Promise<number> {
  const { Socket } = await import('node:net'); // only here: it costs startup
  const socket = new Socket({ fd, readable: false, writable: true });
  let failure: Error | undefined;
  let pending = 0;
  let settled: (() => void) | undefined;
  const onError = (error: Error) => {
    failure ??= ioError(error, 'write', label);
    settled?.();
  };
  socket.on('error', onError);
  let total = 0;
  let batched = 0;
  /** Queues `view`; once the kernel has it, `done` runs (releasing what held it). */
  const write = (view: Uint8Array, done: () => void) => {
    pending++;
    socket.write(view, () => {
      done();
      if (--pending === 0) settled?.();
    });
    total += view.length;
    batched += view.length;
  };
  try {
    socket.cork();
    for (const { views, holders } of left) views.forEach((view, i) => write(view, i < views.length - 1 ? () => {} : () => holders.forEach(release)));
    for (let step = await chunks.next(); !step.done; step = await chunks.next()) {
      if (failure) throw failure;
      const chunk = step.value;
      write(chunk, () => release(chunk));
      if (batched < WRITE_BATCH) continue;
      socket.uncork();
      batched = 0;
      if (socket.writableNeedDrain) await drained(socket);
      socket.cork();
    }
    socket.uncork();
    if (pending > 0 && !failure) await new Promise<void>((resolve) => (settled = resolve));
    if (failure) throw failure;
    return total;
  } finally {
    socket.off('error', onError);
    socket.on('error', () => {}); // late errors (a reader gone after the last byte) have nowhere to go
    socket.unref();
  }
}

/** Writes every chunk to `fd` in order; resolves with the bytes written once the kernel has them all. The descriptor stays open. */
export async function writeDescriptor(fd: number, chunks: AsyncIterable<Uint8Array>, label: string): Promise<number> {
  raisePipeCapacity(fd);
  const iterator = chunks[Symbol.asyncIterator]();
  try {
    const { total, unwritten } = await writeBlocking(fd, iterator, label);
    return unwritten.length > 0 ? total + (await writePolled(fd, unwritten, iterator, label)) : total;
  } finally {
    await iterator.return?.();
  }
}
