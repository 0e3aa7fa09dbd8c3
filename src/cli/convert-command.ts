/** `qcow2-stream convert`: raw to qcow2, from a path or stdin to a path or stdout. */
import { parseArgs } from 'node:util';
import { OptionError } from '../errors.js';
import { BufferPool } from '../node/buffer-pool.js';
import { writeFileAtomically } from '../node/file-sink.js';
import { DEFAULT_READ_SIZE } from '../node/raw-file-source.js';
import { rawToQcow2 } from '../node/raw-to-qcow2.js';
import { stdinChunks, writeStdout } from '../node/stdio.js';
import { CREATE_OPTION_HELP, parseCreateOptions } from './image-options.js';
import { parseSize } from './sizes.js';

export const CONVERT_HELP = `Usage: qcow2-stream convert [-f raw] -O qcow2 [-o OPTIONS] [--size SIZE] SRC DST

Converts a raw disk image to qcow2, reading and writing strictly in order.
SRC and DST are paths, or - for stdin and stdout.

  -f FORMAT              source format: raw (the default)
  -O FORMAT              output format: qcow2
  -o OPTIONS             comma-separated image options, as qemu-img spells them:
${CREATE_OPTION_HELP}
  --size SIZE            virtual size: a multiple of 512, no smaller than the input
                         (default: the input length rounded up to 512)
  --spool-memory SIZE    memory for data waiting to be written when SRC is not a
                         regular file (default 64M); beyond it, a temp file
  --tmpdir DIR           where that temp file goes (default: the OS temp directory;
                         it is unlinked at once and never left behind)
  --sync                 fdatasync DST before renaming it into place (durable
                         across a power loss; slower; off by default, as in qemu-img)
  --debug                show a stack trace on error
  -h, --help             show this help

A regular file SRC is read twice (find the data, then stream it) and nothing is
spooled; a pipe is read once and its data waits in the spool until the layout is
known. DST is written to a temporary name and renamed when complete; on any error
nothing is left behind.

Sizes take a k, M, G, T suffix (powers of 1024).`;

export const CONVERT_OPTIONS = {
  f: { type: 'string' },
  O: { type: 'string' },
  o: { type: 'string', multiple: true },
  size: { type: 'string' },
  'spool-memory': { type: 'string' },
  tmpdir: { type: 'string' },
  sync: { type: 'boolean' },
  debug: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function convertCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: CONVERT_OPTIONS });
  if (values.help) {
    process.stdout.write(`${CONVERT_HELP}\n`);
    return;
  }
  const sourceFormat = values.f ?? 'raw';
  if (sourceFormat !== 'raw') throw new OptionError('-f', `'${sourceFormat}' is not supported as a source format (raw)`);
  if (values.O === undefined) throw new OptionError('-O', 'the output format is required (-O qcow2)');
  if (values.O !== 'qcow2') throw new OptionError('-O', `'${values.O}' is not supported as an output format (qcow2)`);
  if (positionals.length !== 2) throw new OptionError('convert', `needs SRC and DST, got ${positionals.length} argument${positionals.length === 1 ? '' : 's'}`);
  const [source, destination] = positionals as [string, string];

  const create = parseCreateOptions(values.o ?? []);
  const statedSize = values.size !== undefined ? parseSize(values.size, '--size') : create.size;
  const pool = new BufferPool(DEFAULT_READ_SIZE);
  const bytes = rawToQcow2(source === '-' ? stdinChunks() : source, {
    compat: create.compat,
    clusterSize: create.clusterSize,
    refcountBits: create.refcountBits,
    ...(statedSize !== undefined && { virtualSize: statedSize }),
    ...(values['spool-memory'] !== undefined && { memoryLimit: parseSize(values['spool-memory'], '--spool-memory') }),
    ...(values.tmpdir !== undefined && { tempDir: values.tmpdir }),
    pool,
  });
  if (destination === '-') await writeStdout(bytes, pool);
  else await writeFileAtomically(destination, bytes, { sync: values.sync ?? false, pool });
}
