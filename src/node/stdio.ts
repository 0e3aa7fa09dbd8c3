/**
 * stdin and stdout as a converter wants them. When they are regular files (`< in.raw`,
 * `> out.qcow2`) they are read and written on their descriptors in 4 MiB pieces from the
 * thread pool: process.stdin reads a file 64 KiB at a time and process.stdout writes it
 * synchronously on the main thread, several times slower. Pipes, sockets and terminals go
 * through process.stdin/stdout, which libuv polls: a blocking read of a pipe in the thread
 * pool could not be cancelled and would keep the process from exiting.
 */
import { fstatSync } from 'node:fs';
import { isatty } from 'node:tty';
import { OptionError } from '../errors.js';
import { filePosition } from './data-extents.js';
import { writeAll } from './file-sink.js';
import { ioError } from './io-error.js';
import { readFully } from './positional-io.js';
import { readableChunks } from './raw-source.js';
import { writeToStream } from './stream-sink.js';

const CHUNK = 4 * 1024 * 1024;

function isRegularFile(fd: number): boolean {
  try {
    return fstatSync(fd).isFile();
  } catch {
    return false;
  }
}

/**
 * stdin as a path, when it is a regular file read from its start (`< disk.raw`): then it is
 * read like any file (twice, or with random access) instead of once through the spool.
 * Linux's /dev/stdin opens the file itself, whatever stdin's position, so a file stdin that
 * someone has already read into is left to the stream path.
 */
export async function stdinAsPath(): Promise<string | undefined> {
  if (process.platform !== 'linux' || !isRegularFile(0)) return undefined;
  return (await filePosition(0)) === 0 ? '/dev/stdin' : undefined;
}

/** The bytes of stdin, in chunks that each own their buffer. */
export async function* stdinChunks(): AsyncGenerator<Uint8Array> {
  if (!isRegularFile(0)) {
    yield* readableChunks(process.stdin, 'stdin');
    return;
  }
  // From stdin's own position, which moves as it is read: a file someone has read into
  // goes on from there.
  for (;;) {
    const buffer = Buffer.allocUnsafe(CHUNK);
    let bytesRead: number;
    try {
      bytesRead = await readFully(0, buffer, CHUNK, null);
    } catch (error) {
      throw ioError(error, 'read', 'stdin');
    }
    if (bytesRead === 0) return;
    yield bytesRead === CHUNK ? buffer : buffer.subarray(0, bytesRead);
    if (bytesRead < CHUNK) return;
  }
}

/** Writes chunks to stdout; refuses a terminal, which a binary image would garble. */
export async function writeStdout(chunks: AsyncIterable<Uint8Array>): Promise<number> {
  if (isatty(1)) throw new OptionError('DST', 'stdout is a terminal; redirect it to a file or a pipe (or give a path)');
  if (isRegularFile(1)) return writeAll(1, chunks, 'stdout');
  return writeToStream(chunks, process.stdout, 'stdout', { end: false });
}
