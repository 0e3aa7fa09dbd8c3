/** `qcow2-stream convert`: raw or qcow2 in, raw or qcow2 out, from a path or stdin to a path or stdout. */
import { stat } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { OptionError } from '../errors.js';
import { BufferPool } from '../node/buffer-pool.js';
import { openSource, toQcow2, toRawClusters } from '../node/convert.js';
import { writeFileAtomically } from '../node/file-sink.js';
import type { ImageFormat } from '../node/probe.js';
import { DEFAULT_READ_SIZE } from '../node/raw-file-source.js';
import { writeRawFile } from '../node/raw-file-sink.js';
import { stdinChunks, writeStdout } from '../node/stdio.js';
import { writeRaw } from '../stages/raw-writer.js';
import { CREATE_OPTION_HELP, parseCreateOptions } from './image-options.js';
import { parseSize } from './sizes.js';
import { warn } from './warn.js';

export const CONVERT_HELP = `Usage: qcow2-stream convert [-f raw|qcow2] -O qcow2|raw [-c] [-o OPTIONS] [-B PATH] SRC DST

Converts a disk image, reading and writing strictly in order: raw to qcow2, qcow2 to
raw, qcow2 to qcow2 (to change version, cluster size or refcount width).
SRC and DST are paths, or - for stdin and stdout.

  -f FORMAT              source format, raw or qcow2 (default: probed from its first bytes)
  -O FORMAT              output format, qcow2 or raw
  -c                     compress the qcow2 output: raw deflate as qemu writes it, on
                         every core; clusters that do not shrink are stored as they are
  -o OPTIONS             comma-separated qcow2 output options, as qemu-img spells them:
${CREATE_OPTION_HELP}
  -B, --backing PATH     the backing image of a qcow2 SRC (raw or qcow2, its own backing
                         files followed by name); without it an image that names a
                         backing file is refused
  --size SIZE            virtual size of a raw SRC: a multiple of 512, no smaller than
                         the input (default: the input length rounded up to 512)
  --sequential           read a qcow2 SRC strictly forward even when it is a regular file
                         (as from a pipe) instead of with random access
  --threads N            threads that compress and inflate (default: one per core)
  --codec NAME           deflate implementation for -c: zlib (node:zlib, default), pako
                         (portable JavaScript, same bytes as zlib) or pako-legacy
                         (canonical zlib hashing: the same bytes qemu-img -c writes)
  --compress-twice       with -c and a regular file SRC: compress once to learn the
                         layout and again to write it, spooling nothing (twice the CPU;
                         by default compressed clusters wait in the spool)
  --spool-memory SIZE    memory for data waiting its turn (default 64M); beyond it, a
                         temp file
  --spool-disk SIZE      the most that temp file may hold (default: no limit; it grows
                         only with what is read)
  --tmpdir DIR           where that temp file goes (default: the OS temp directory;
                         it is unlinked at once and never left behind)
  --sync                 fdatasync DST before renaming it into place (durable across a
                         power loss; slower; off by default, as in qemu-img)
  --debug                show a stack trace on error
  -h, --help             show this help

A raw SRC in a regular file is read twice (find the data, then stream it) and nothing is
spooled; from a pipe it is read once and its data waits in the spool until the layout is
known. A qcow2 SRC in a regular file is read with random access; from a pipe it is read
forward, and data that arrives before its turn waits in the spool. DST is written to a
temporary name and renamed when complete; on any error nothing is left behind. A raw DST
file is sparse where the disk reads as zeros.

Sizes take a k, M, G, T suffix (powers of 1024).`;

export const CONVERT_OPTIONS = {
  f: { type: 'string' },
  O: { type: 'string' },
  o: { type: 'string', multiple: true },
  backing: { type: 'string', short: 'B' },
  size: { type: 'string' },
  sequential: { type: 'boolean' },
  c: { type: 'boolean' },
  threads: { type: 'string' },
  codec: { type: 'string' },
  'compress-twice': { type: 'boolean' },
  'spool-memory': { type: 'string' },
  'spool-disk': { type: 'string' },
  tmpdir: { type: 'string' },
  sync: { type: 'boolean' },
  debug: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function formatOption(value: string | undefined, option: string): ImageFormat | undefined {
  if (value === undefined || value === 'raw' || value === 'qcow2') return value;
  throw new OptionError(option, `'${value}' is not a supported format (raw, qcow2)`);
}

function positiveInteger(text: string, option: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < 1) throw new OptionError(option, `'${text}' is not a positive whole number`);
  return value;
}

function codecOption(text: string): 'zlib' | 'pako' | 'pako-legacy' {
  if (text === 'zlib' || text === 'pako' || text === 'pako-legacy') return text;
  throw new OptionError('--codec', `'${text}' is not zlib, pako or pako-legacy`);
}

async function isRegularFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

export async function convertCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: CONVERT_OPTIONS });
  if (values.help) {
    process.stdout.write(`${CONVERT_HELP}\n`);
    return;
  }
  const sourceFormat = formatOption(values.f, '-f');
  if (values.O === undefined) throw new OptionError('-O', 'the output format is required (-O qcow2 or -O raw)');
  const outputFormat = formatOption(values.O, '-O')!;
  if (positionals.length !== 2) throw new OptionError('convert', `needs SRC and DST, got ${positionals.length} argument${positionals.length === 1 ? '' : 's'}`);
  const [source, destination] = positionals as [string, string];
  if (outputFormat === 'raw' && values.o !== undefined) throw new OptionError('-o', 'image options only apply to -O qcow2');

  const create = parseCreateOptions(values.o ?? []);
  if (values.c && outputFormat !== 'qcow2') throw new OptionError('-c', 'compression only applies to -O qcow2');
  const compression = {
    compress: values.c ?? false,
    compressTwice: values['compress-twice'] ?? false,
    ...(values.threads !== undefined && { threads: positiveInteger(values.threads, '--threads') }),
    ...(values.codec !== undefined && { deflate: codecOption(values.codec) }),
    ...(create.compressionLevel !== undefined && { level: create.compressionLevel }),
  };
  if (compression.compressTwice && (source === '-' || !(await isRegularFile(source)))) {
    throw new OptionError('--compress-twice', 'needs SRC to be a regular file (it is read twice)');
  }
  const statedSize = values.size !== undefined ? parseSize(values.size, '--size') : create.size;
  const spool = {
    ...(values['spool-memory'] !== undefined && { memoryLimit: parseSize(values['spool-memory'], '--spool-memory') }),
    ...(values['spool-disk'] !== undefined && { diskLimit: parseSize(values['spool-disk'], '--spool-disk') }),
    ...(values.tmpdir !== undefined && { tempDir: values.tmpdir }),
  };
  const pool = new BufferPool(DEFAULT_READ_SIZE);
  const { records, reopen } = await openSource(source === '-' ? stdinChunks() : source, {
    ...spool,
    ...(sourceFormat && { format: sourceFormat }),
    clusterSize: create.clusterSize,
    ...(statedSize !== undefined && { virtualSize: statedSize }),
    ...(values.backing !== undefined && { backing: values.backing }),
    randomAccess: !values.sequential,
    onWarning: warn,
    pool,
  });
  const sink = { sync: values.sync ?? false, pool };

  if (outputFormat === 'qcow2') {
    const bytes = toQcow2(records, { ...spool, ...compression, pool, compat: create.compat, clusterSize: create.clusterSize, refcountBits: create.refcountBits }, reopen);
    if (destination === '-') await writeStdout(bytes, pool);
    else await writeFileAtomically(destination, bytes, sink);
    return;
  }
  const raw = toRawClusters(records, compression);
  if (destination === '-') await writeStdout(writeRaw()(raw));
  else await writeRawFile(destination, raw, sink);
}
