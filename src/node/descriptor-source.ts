/**
 * Bytes read on a descriptor straight into pool buffers, with no fresh memory per read.
 *
 * Node's stream reads hand out a new buffer for every read (64 KiB at a time from a pipe), and
 * on the machines we run on each new page is a fault: reading a gigabyte that way costs seconds
 * of system time. Here a pipe, FIFO or socket is read through libuv (net.Socket's `onread`),
 * which polls the descriptor, so a non-blocking one's EAGAIN just waits for the next event and
 * nothing spins; libuv reads into the free tail of a 1 MiB pool buffer, and each buffer goes
 * downstream once full (or at the end), holding its reference (see stages/buffer-pool.ts). Whole
 * megabytes are aligned with every cluster size up to 1 MiB, so the chunker and the reader
 * seldom have to join a cluster from two chunks. A pipe's capacity is raised first
 * (pipe-capacity.ts). Anything that cannot be polled (a regular file read from its position, a
 * character device) is read with positional reads on the thread pool into the same buffers.
 *
 * At most `ahead` full buffers wait for the consumer; past that the descriptor is not read until
 * the consumer catches up, so a slow consumer holds memory flat and the producer waits.
 */
import { close, open, read } from 'node:fs';
import { promisify } from 'node:util';
import type { OnReadOpts, Socket, SocketConstructorOpts } from 'node:net';
import { BufferPool, release, sharedBufferPool } from '../stages/buffer-pool.js';
import { isPollable } from './file-kind.js';
import { ioError } from './io-error.js';
import { raisePipeCapacity } from './pipe-capacity.js';

/** Bytes per buffer handed downstream. */
export const READ_BUFFER = 1024 * 1024;
/** Full buffers that may wait for the consumer before reading pauses. */
const AHEAD = 4;

export interface DescriptorReadOptions {
  pool?: BufferPool;
  /** Full buffers read ahead of the consumer. Default 4. */
  ahead?: number;
}

/**
 * Collects what libuv reads into pool buffers and hands out the full ones in order. The socket
 * is made by the caller with `onread` from `readOptions()`, then given to `chunks()`.
 */
export class PooledReads {
  private readonly queue: Uint8Array[] = [];
  private current: Uint8Array | undefined;
  private filled = 0;
  private ended = false;
  /** Reading stopped because `ahead` buffers wait. */
  private paused = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  private readonly pool: BufferPool;
  private readonly ahead: number;

  constructor(options: DescriptorReadOptions = {}) {
    this.pool = options.pool ?? sharedBufferPool();
    this.ahead = options.ahead ?? AHEAD;
  }

  /** The `onread` option for a net.Socket or net.connect: libuv reads into the free tail of the current buffer. */
  readOptions(): OnReadOpts {
    return {
      buffer: () => {
        this.current ??= this.pool.take(READ_BUFFER);
        return this.current.subarray(this.filled);
      },
      callback: (bytesRead: number) => {
        this.filled += bytesRead;
        if (this.filled === this.current!.length) this.push();
        // false stops reading; `chunks` resumes it once the consumer has caught up.
        this.paused = this.queue.length >= this.ahead;
        return !this.paused;
      },
    };
  }

  private push(): void {
    const full = this.current!;
    this.queue.push(this.filled === full.length ? full : full.subarray(0, this.filled));
    this.current = undefined;
    this.filled = 0;
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** The end of input: the partial buffer goes too. */
  end(): void {
    if (this.current && this.filled > 0) this.push();
    this.ended = true;
    this.notify();
  }

  fail(error: Error): void {
    this.failure ??= error;
    this.notify();
  }

  /** Gives back whatever was read and not handed out. */
  private drop(): void {
    for (const chunk of this.queue.splice(0)) release(chunk);
    if (this.current) release(this.current);
    this.current = undefined;
    this.filled = 0;
  }

  /**
   * The buffers in order, each holding its reference; the socket is destroyed at the end or
   * when the consumer stops. A socket starts reading as soon as it is made, and may see its end
   * before anyone listens: so this is called as it is made, and a socket already ended counts.
   */
  async *chunks(socket: Socket, label: string): AsyncGenerator<Uint8Array> {
    socket.on('end', () => this.end());
    socket.on('error', (error) => this.fail(error));
    socket.on('close', () => this.end());
    if (socket.readableEnded || socket.destroyed) this.end();
    socket.resume();
    try {
      for (;;) {
        const chunk = this.queue.shift();
        if (this.paused && this.queue.length < this.ahead) {
          this.paused = false;
          socket.resume();
        }
        if (chunk) {
          yield chunk;
          continue;
        }
        if (this.failure) throw ioError(this.failure, 'read', label);
        if (this.ended) return;
        await new Promise<void>((resolve) => (this.wake = resolve));
      }
    } finally {
      socket.destroy();
      this.drop();
    }
  }
}

/** Reads `fd` from its position to its end with reads on the thread pool (a file, a device). */
async function* positionalReads(fd: number, label: string, pool: BufferPool): AsyncGenerator<Uint8Array> {
  for (;;) {
    const buffer = pool.take(READ_BUFFER);
    let filled = 0;
    try {
      for (;;) {
        const bytesRead = await new Promise<number>((resolve, reject) => read(fd, buffer, filled, buffer.length - filled, null, (error, n) => (error ? reject(error) : resolve(n))));
        if (bytesRead === 0) break;
        filled += bytesRead;
        if (filled === buffer.length) break;
      }
    } catch (error) {
      release(buffer);
      throw ioError(error, 'read', label);
    }
    if (filled === 0) {
      release(buffer);
      return;
    }
    yield filled === buffer.length ? buffer : buffer.subarray(0, filled);
    if (filled < buffer.length) return;
  }
}

/**
 * The bytes of descriptor `fd` from where it stands to its end, in pool buffers (see above).
 * The descriptor is not closed, except that a polled one is taken over by the socket that reads
 * it, which closes it when done.
 */
export async function* readDescriptor(fd: number, label: string, options: DescriptorReadOptions = {}): AsyncGenerator<Uint8Array> {
  if (!isPollable(fd)) {
    yield* positionalReads(fd, label, options.pool ?? sharedBufferPool());
    return;
  }
  raisePipeCapacity(fd);
  const reads = new PooledReads(options);
  // node:net loads only here: a conversion between files never needs it (it costs startup).
  const { Socket } = await import('node:net');
  // Made only when the first chunk is asked for, and listened to at once (see `chunks`).
  // Node takes `onread` in the constructor too, though its types only name it for connect().
  const socketOptions = { fd, readable: true, writable: false, onread: reads.readOptions() } as SocketConstructorOpts;
  yield* reads.chunks(new Socket(socketOptions), label);
}

/** The bytes of the file, FIFO, device or socket at `path`, from its start to its end, in pool buffers; the descriptor is closed at the end. */
export async function* readPath(path: string, options: DescriptorReadOptions = {}): AsyncGenerator<Uint8Array> {
  let fd: number;
  try {
    fd = await promisify(open)(path, 'r');
  } catch (error) {
    throw ioError(error, 'open', path);
  }
  if (isPollable(fd)) {
    yield* readDescriptor(fd, path, options); // the socket closes it
    return;
  }
  try {
    yield* positionalReads(fd, path, options.pool ?? sharedBufferPool());
  } finally {
    close(fd, () => {});
  }
}
