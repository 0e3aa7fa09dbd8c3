/**
 * stdin and stdout as a converter wants them. A regular file (`< in.raw`, `> out.qcow2`) is
 * read and written on its descriptor from the thread pool, in large pieces. A pipe or socket is
 * read and written through libuv into and out of pool buffers (descriptor-source.ts,
 * descriptor-sink.ts): process.stdin would hand out a fresh 64 KiB buffer per read, and
 * process.stdout writes a pipe synchronously on the main thread. A terminal is refused either
 * way: a disk image would garble it, and no one types one.
 */
import { OptionError } from '../errors.js';
import { filePosition } from './data-extents.js';
import { readDescriptor } from './descriptor-source.js';
import { writeDescriptor } from './descriptor-sink.js';
import { isPollable, isRegularDescriptor } from './file-kind.js';
import { writeAll } from './file-sink.js';

/**
 * stdin as a path, when it is a regular file read from its start (`< disk.raw`): then it is
 * read like any file (twice, or with random access) instead of once through the spool.
 * Linux's /dev/stdin opens the file itself, whatever stdin's position, so a file stdin that
 * someone has already read into is left to the stream path.
 */
export async function stdinAsPath(): Promise<string | undefined> {
  if (process.platform !== 'linux' || !isRegularDescriptor(0)) return undefined;
  return (await filePosition(0)) === 0 ? '/dev/stdin' : undefined;
}

/** Whether descriptor `fd` is a terminal. node:tty loads only here: it loads node:net and the stream machinery, which a conversion between files does without. */
async function isTerminal(fd: number): Promise<boolean> {
  return (await import('node:tty')).isatty(fd);
}

/** The bytes of stdin from where it stands, in pool buffers that each hold their reference. */
export async function stdinChunks(): Promise<AsyncGenerator<Uint8Array>> {
  // Checked now, not when the first chunk is asked for, so that the error comes before any work.
  if (await isTerminal(0)) throw new OptionError('SRC', 'stdin is a terminal; pipe an image in (or give a path)');
  return readDescriptor(0, 'stdin');
}

/** Writes chunks to stdout, releasing each once written; refuses a terminal, which a binary image would garble. */
export async function writeStdout(chunks: AsyncIterable<Uint8Array>): Promise<number> {
  if (await isTerminal(1)) throw new OptionError('DST', 'stdout is a terminal; redirect it to a file or a pipe (or give a path)');
  if (isPollable(1)) return writeDescriptor(1, chunks, 'stdout');
  return writeAll(1, chunks, 'stdout');
}
