/**
 * Writes chunks to a Node writable (stdout, a socket) with backpressure; errors name the
 * destination. Each chunk's reference is released when the stream says it has written it.
 */
import type { Writable } from 'node:stream';
import { release } from '../stages/buffer-pool.js';
import { ioError } from './io-error.js';

/** With `end: false` (for stdout, which must stay open) it waits for the last write to flush instead of ending. */
export async function writeToStream(chunks: AsyncIterable<Uint8Array>, stream: Writable, label: string, options: { end?: boolean } = {}): Promise<number> {
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const onError = (error: Error) => {
    failure = ioError(error, 'write', label);
    wake?.();
  };
  const onDrain = () => wake?.();
  stream.on('error', onError);
  stream.on('drain', onDrain);
  let total = 0;
  try {
    for await (const chunk of chunks) {
      if (failure) throw failure;
      total += chunk.length;
      if (!stream.write(chunk, () => release(chunk))) {
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
      if (failure) throw failure;
    }
    await new Promise<void>((resolve, reject) => {
      if (failure) return reject(failure);
      stream.once('error', reject);
      if (options.end ?? true) stream.end(() => resolve());
      else stream.write(new Uint8Array(0), () => resolve());
    }).catch((error: Error) => {
      throw ioError(error, 'write', label);
    });
    return total;
  } finally {
    stream.off('error', onError);
    stream.off('drain', onDrain);
  }
}
