/** Which format an input is in, from its first bytes: qcow2 has the QFI\xfb magic, anything else is raw. */
import { open } from 'node:fs/promises';
import { QCOW2_MAGIC } from '../format/constants.js';
import { ioError } from './io-error.js';

export type ImageFormat = 'raw' | 'qcow2';

function formatOf(first: Uint8Array): ImageFormat {
  return first.length >= 4 && ((first[0]! << 24) | (first[1]! << 16) | (first[2]! << 8) | first[3]!) >>> 0 === QCOW2_MAGIC ? 'qcow2' : 'raw';
}

export async function probeFormat(path: string): Promise<ImageFormat> {
  try {
    const file = await open(path, 'r');
    try {
      const magic = new Uint8Array(4);
      const { bytesRead } = await file.read(magic, 0, 4, 0);
      return formatOf(magic.subarray(0, bytesRead));
    } finally {
      await file.close();
    }
  } catch (error) {
    throw ioError(error, 'open', path);
  }
}

/** Reads a stream's first bytes to learn its format, and gives back a stream that still starts at byte 0. */
export async function probeStream(source: AsyncIterable<Uint8Array>): Promise<{ format: ImageFormat; stream: AsyncIterable<Uint8Array> }> {
  const iterator = source[Symbol.asyncIterator]();
  const seen: Uint8Array[] = [];
  let length = 0;
  let done = false;
  while (length < 4) {
    const step = await iterator.next();
    if (step.done) {
      done = true;
      break;
    }
    seen.push(step.value);
    length += step.value.length;
  }
  const first = new Uint8Array(Math.min(length, 4));
  let at = 0;
  for (const chunk of seen) {
    if (at >= first.length) break;
    const take = Math.min(chunk.length, first.length - at);
    first.set(chunk.subarray(0, take), at);
    at += take;
  }
  async function* replay(): AsyncGenerator<Uint8Array> {
    try {
      yield* seen;
      if (done) return;
      for (;;) {
        const step = await iterator.next();
        if (step.done) return;
        yield step.value;
      }
    } finally {
      await iterator.return?.();
    }
  }
  return { format: formatOf(first), stream: replay() };
}
