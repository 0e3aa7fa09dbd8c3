/** `qcow2-stream convert`: raw or qcow2 in, raw or qcow2 out, from and to files, pipes, HTTP, S3 and TCP. */
import { parseArgs } from 'node:util';
import { OptionError } from '../errors.js';
import { openSource, toRawClusters } from '../node/convert.js';
import { isRegularFile } from '../node/file-kind.js';
import { takesHeadLast, writeQcow2To, writeRawTo } from '../node/destinations.js';
import { parseLocation } from '../node/net/location.js';
import type { ImageFormat } from '../node/probe.js';
import { openByteSource } from '../node/sources.js';
import { reportProgress } from '../stages/progress.js';
import { ProgressMeter } from './progress.js';
import { CREATE_OPTION_HELP, parseCreateOptions } from './image-options.js';
import { parseSize } from './sizes.js';
import { NETWORK_OPTIONS, networkOptions, positiveInteger } from './network-options.js';
import { setQuiet, warn } from './warn.js';

export const CONVERT_HELP = `Usage: qcow2-stream convert [-f raw|qcow2] -O qcow2|raw [-c] [-o OPTIONS] [-B PATH] SRC DST

Converts a disk image, reading and writing strictly in order: raw to qcow2, qcow2 to
raw, qcow2 to qcow2 (to change version, cluster size or refcount width).

SRC and DST are each one of:
  PATH                   a file (or a device)
  -                      stdin or stdout
  http://... https://... a streaming GET (SRC) or PUT (DST)
  s3://BUCKET/KEY        an S3 object: region, credentials and endpoint from the usual
                         AWS environment (AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL, ...)
  tcp://HOST:PORT        connect, then read or write the image
  tcp-listen://[HOST]:PORT  wait for one connection, then read or write the image

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
  --compress-every-cluster
                         with -c: deflate even clusters whose bytes look random, as
                         qemu-img does (by default they are stored as they are, untried:
                         several times faster on encrypted or compressed data; always
                         so with --codec pako-legacy)
  --spool-memory SIZE    memory for data waiting its turn (default 64M); beyond it, a
                         temp file
  --spool-disk SIZE      the most that temp file may hold (default: no limit; it grows
                         only with what is read)
  --tmpdir DIR           where that temp file goes (default: the OS temp directory;
                         it is unlinked at once and never left behind)
  --sync                 fdatasync DST before renaming it into place (durable across a
                         power loss; slower; off by default, as in qemu-img)
  --timeout SECONDS      give up a network transfer after this long without a byte, or a
                         TCP connection not made (default 30; 0 waits for ever)
  --endpoint URL         an S3-compatible store (path-style addressing)
  --region NAME          the S3 region (default: AWS_REGION, the profile, else us-east-1)
  --part-size SIZE       size of the first S3 parts (default 8M, at least 5M); parts
                         double every 1000 so that 10,000 reach S3's 5 TiB
  --parts-in-flight N    S3 parts uploaded at once (default 4); memory is about
                         (N + 1) parts
  -p, --progress         show progress on stderr (when it is a terminal)
  --progress-force       show progress even when stderr is not a terminal (a line every
                         2 seconds)
  -q, --quiet            no warnings, no progress
  --debug                show a stack trace on error
  -h, --help             show this help

qcow2 puts its tables first. A qcow2 DST file (when the virtual size is known up front)
and an S3 DST take them last instead: the data goes out as it is read, the tables after,
nothing is spooled, and a raw SRC file is read once. The file comes out byte for byte the
image a pipe gets. To any other DST (stdout, HTTP, TCP) a raw SRC file is read twice (find
the data, then stream it) and nothing is spooled; data from a pipe, and compressed data,
wait in the spool until the layout is known. A qcow2 SRC in a regular file is read with
random access; from a pipe it is read forward, and data that arrives before its turn
waits in the spool. A DST file is written to a temporary name and renamed when
complete; on any error nothing is left behind, and an S3 upload is aborted. A raw DST
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
  'compress-every-cluster': { type: 'boolean' },
  'spool-memory': { type: 'string' },
  'spool-disk': { type: 'string' },
  tmpdir: { type: 'string' },
  sync: { type: 'boolean' },
  ...NETWORK_OPTIONS,
  'part-size': { type: 'string' },
  'parts-in-flight': { type: 'string' },
  progress: { type: 'boolean', short: 'p' },
  'progress-force': { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  debug: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function formatOption(value: string | undefined, option: string): ImageFormat | undefined {
  if (value === undefined || value === 'raw' || value === 'qcow2') return value;
  throw new OptionError(option, `'${value}' is not a supported format (raw, qcow2)`);
}


function codecOption(text: string): 'zlib' | 'pako' | 'pako-legacy' {
  if (text === 'zlib' || text === 'pako' || text === 'pako-legacy') return text;
  throw new OptionError('--codec', `'${text}' is not zlib, pako or pako-legacy`);
}

/** The -p meter, if asked for and stderr can show it (node:tty loads only then: it costs startup). */
async function progressMeter(values: { progress?: boolean; 'progress-force'?: boolean; quiet?: boolean }): Promise<ProgressMeter | undefined> {
  if (values.quiet || !(values.progress || values['progress-force'])) return undefined;
  const terminal = (await import('node:tty')).isatty(2);
  if (values['progress-force'] || terminal) return new ProgressMeter(process.stderr, terminal);
  return undefined;
}

export async function convertCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: CONVERT_OPTIONS });
  if (values.help) {
    process.stdout.write(`${CONVERT_HELP}\n`);
    return;
  }
  if (values.quiet) setQuiet(true);
  const sourceFormat = formatOption(values.f, '-f');
  if (values.O === undefined) throw new OptionError('-O', 'the output format is required (-O qcow2 or -O raw)');
  const outputFormat = formatOption(values.O, '-O')!;
  if (positionals.length !== 2) throw new OptionError('convert', `needs SRC and DST, got ${positionals.length} argument${positionals.length === 1 ? '' : 's'}`);
  const source = parseLocation(positionals[0]!);
  const destination = parseLocation(positionals[1]!);
  if (outputFormat === 'raw' && values.o !== undefined) throw new OptionError('-o', 'image options only apply to -O qcow2');

  const create = parseCreateOptions(values.o ?? []);
  if (values.c && outputFormat !== 'qcow2') throw new OptionError('-c', 'compression only applies to -O qcow2');
  if (values['compress-every-cluster'] && !values.c) throw new OptionError('--compress-every-cluster', 'only applies with compression (-c)');
  const compression = {
    compress: values.c ?? false,
    compressTwice: values['compress-twice'] ?? false,
    ...(values['compress-every-cluster'] && { compressEveryCluster: true }),
    ...(values.threads !== undefined && { threads: positiveInteger(values.threads, '--threads') }),
    ...(values.codec !== undefined && { deflate: codecOption(values.codec) }),
    ...(create.compressionLevel !== undefined && { level: create.compressionLevel }),
  };
  if (compression.compressTwice && (source.kind !== 'file' || !(await isRegularFile(source.path)))) {
    throw new OptionError('--compress-twice', 'needs SRC to be a regular file (it is read twice)');
  }
  const statedSize = values.size !== undefined ? parseSize(values.size, '--size') : create.size;
  const spool = {
    ...(values['spool-memory'] !== undefined && { memoryLimit: parseSize(values['spool-memory'], '--spool-memory') }),
    ...(values['spool-disk'] !== undefined && { diskLimit: parseSize(values['spool-disk'], '--spool-disk') }),
    ...(values.tmpdir !== undefined && { tempDir: values.tmpdir }),
  };
  const network = networkOptions(values);
  const meter = await progressMeter(values);
  const input = await openByteSource(source, network);
  if (meter && typeof input !== 'string' && input.length !== undefined) meter.fallbackTotal = input.length;
  const opened = await openSource(typeof input === 'string' ? input : input.chunks, {
    ...spool,
    ...(sourceFormat && { format: sourceFormat }),
    clusterSize: create.clusterSize,
    ...(statedSize !== undefined && { virtualSize: statedSize }),
    ...(values.backing !== undefined && { backing: values.backing }),
    randomAccess: !values.sequential,
    // Only an in-order qcow2 writer of plain clusters can use a raw file's map up front.
    scan: outputFormat === 'qcow2' && !compression.compress && !(await takesHeadLast(destination)),
    onWarning: warn,
  });
  const records = meter ? reportProgress((done, total) => meter.update(done, total))(opened.records) : opened.records;
  const sink = { ...network, sync: values.sync ?? false };

  if (outputFormat === 'qcow2') {
    await writeQcow2To(destination, records, { ...spool, ...compression, ...sink, compat: create.compat, clusterSize: create.clusterSize, refcountBits: create.refcountBits }, opened.reopen);
  } else {
    await writeRawTo(destination, toRawClusters(records, compression), sink);
  }
  meter?.finish();
}
