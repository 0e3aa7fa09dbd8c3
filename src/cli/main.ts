#!/usr/bin/env node
/** The qcow2-stream command line: a thin layer over the library. */
import { unlinkSync, writeSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Qcow2StreamError } from '../errors.js';
import { removeTempFilesSync, runCleanups } from '../node/cleanups.js';
import { printVersion } from './version.js';
import { sharedBufferPool } from '../stages/buffer-pool.js';

const HELP = `Usage: qcow2-stream COMMAND [OPTIONS]

Disk images as streams: raw and qcow2, converted strictly in order, between files, pipes,
HTTP, S3 and TCP.

Commands:
  convert    convert between raw and qcow2 (see qcow2-stream convert --help)
  info       show what an image is (see qcow2-stream info --help)
  check      verify a qcow2 image's refcounts, as qemu-img check (see qcow2-stream check --help)
  measure    how big a qcow2 image would be (see qcow2-stream measure --help)

Options:
  -h, --help     show this help (qcow2-stream help COMMAND: that command's)
  --version      print the version

Exit status: 0 on success, 1 on error, 2 on a usage error (check: qemu-img check's codes).`;

interface Command {
  /** Resolves with the exit status (undefined: 0). */
  run: (argv: string[]) => Promise<number | void>;
  help: string;
}

/**
 * Each command's module is loaded only when it runs: startup time is paid on every
 * conversion, and loading every module of every command costs about as much as Node itself.
 * A usage error exits with `usageExit`.
 */
const COMMANDS: Record<string, { load: () => Promise<Command>; usageExit: number }> = {
  convert: { load: async () => import('./convert-command.js').then((m) => ({ run: m.convertCommand, help: m.CONVERT_HELP })), usageExit: 2 },
  info: { load: async () => import('./info-command.js').then((m) => ({ run: m.infoCommand, help: m.INFO_HELP })), usageExit: 2 },
  // qemu-img check gives 2 to corruption, so a usage error is 1, "the check could not complete".
  check: { load: async () => import('./check-command.js').then((m) => ({ run: m.checkCommand, help: m.CHECK_HELP })), usageExit: 1 },
  measure: { load: async () => import('./measure-command.js').then((m) => ({ run: m.measureCommand, help: m.MEASURE_HELP })), usageExit: 2 },
};

/** Node's own argument errors (from util.parseArgs) are usage errors too. */
function isUsageError(error: unknown): boolean {
  const code = (error as { code?: string }).code ?? '';
  return code === 'ERR_QCOW2_OPTION' || code.startsWith('ERR_PARSE_ARGS');
}

function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0]!;
}

/**
 * On a signal: remove partial output, abort uploads (for a few seconds at most), say so,
 * then die of the same signal (exit status 128+N).
 */
function cleanUpOnSignal(signal: NodeJS.Signals): void {
  process.once(signal, () => {
    removeTempFilesSync(unlinkSync);
    process.stderr.write(`qcow2-stream: interrupted by ${signal}\n`);
    void runCleanups(5000).then(() => process.kill(process.pid, signal));
  });
}

/**
 * QCOW2_STREAM_DEBUG_BUFFERS=1: after a command succeeds, every pooled buffer must be back in
 * the pool (see stages/buffer-pool.ts); one that is not fails the command, and --debug says
 * where each was taken. The tests run every command this way.
 */
const checkBuffers = process.env.QCOW2_STREAM_DEBUG_BUFFERS === '1';
if (checkBuffers) sharedBufferPool().trackLeaks();

function assertBuffersBack(debug: boolean): void {
  const pool = sharedBufferPool();
  if (pool.outstanding === 0) return;
  if (debug) process.stderr.write(`${pool.leaks().join('\n\n')}\n`);
  throw new Error(`${pool.outstanding} pooled buffers were not given back (QCOW2_STREAM_DEBUG_BUFFERS)`);
}

// Deflate shares libuv's thread pool with file I/O: give it a thread or two beyond the cores.
// Read when the pool first starts, which is after this line.
process.env.UV_THREADPOOL_SIZE ??= String(Math.max(4, availableParallelism() + 2));

async function main(argv: string[]): Promise<number> {
  const debug = argv.includes('--debug');
  const [command, ...rest] = argv;
  const topic = command === 'help' && rest[0] !== undefined ? COMMANDS[rest[0]] : undefined;
  if (topic) {
    writeSync(1, `${(await topic.load()).help}\n`);
    return 0;
  }
  if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
    writeSync(1, `${HELP}\n`);
    return command === undefined ? 2 : 0;
  }
  if (command === '--version' || command === '-V') {
    printVersion();
    return 0;
  }
  const entry = COMMANDS[command];
  if (!entry) {
    process.stderr.write(`qcow2-stream: unknown command '${command}' (try --help)\n`);
    return 2;
  }
  cleanUpOnSignal('SIGINT');
  cleanUpOnSignal('SIGTERM');
  cleanUpOnSignal('SIGHUP');
  try {
    const status = (await (await entry.load()).run(rest)) ?? 0;
    if (checkBuffers) assertBuffersBack(debug);
    return status;
  } catch (error) {
    removeTempFilesSync(unlinkSync);
    if (debug && error instanceof Error) process.stderr.write(`${error.stack}\n`);
    const known = error instanceof Qcow2StreamError || isUsageError(error);
    process.stderr.write(`qcow2-stream: ${known ? '' : 'internal error: '}${oneLine(error)}\n`);
    return isUsageError(error) ? entry.usageExit : 1;
  }
}

// Not a top-level await (the bundle is CommonJS, which starts faster), and not left to chance:
// a run whose work stopped with nothing left to wait for (a promise never settled) must not
// exit 0 as if it had finished.
let settled = false;
void main(process.argv.slice(2)).then((status) => {
  settled = true;
  process.exitCode = status;
});
process.on('exit', () => {
  if (settled) return;
  removeTempFilesSync(unlinkSync);
  process.stderr.write('qcow2-stream: internal error: the command stopped before it finished (nothing left to wait for)\n');
  process.exitCode = 1;
});
