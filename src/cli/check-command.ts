/** `qcow2-stream check`: verify a qcow2 image's refcounts and references, as qemu-img check does. */
import { parseArgs } from 'node:util';
import { OptionError } from '../errors.js';
import { checkExitCode, checkQcow2File, checkQcow2Stream, type CheckReport } from '../node/qcow2-check.js';
import { parseLocation } from '../node/net/location.js';
import { openByteSource } from '../node/sources.js';
import { NETWORK_OPTIONS, networkOptions } from './network-options.js';

export const CHECK_HELP = `Usage: qcow2-stream check [--output=human|json] [--tmpdir DIR] SRC

Recomputes every refcount of a qcow2 image from the structures that reference its
clusters (header, refcount table and blocks, active and snapshot L1/L2 tables, the
snapshot table, persistent bitmaps), compares them with the stored ones, checks that
every reference lies inside the file and that the copied flags are right. SRC is a
path, or any stream convert reads (-, a URL, s3://, tcp://), which is copied to an
unlinked temp file first: tables may come in any order. Reports and exit status follow
qemu-img check:

  0  no errors          2  corruption: refcounts too low, bad references or flags
  1  the check could not complete (unreadable header, references past the end)
  3  leaked clusters only (refcounts too high: wasted space, no harm to data)

  --output FORMAT        human (default) or json (qemu-img check's field names)
  --tmpdir DIR           where the copy of a stream goes (default: the OS temp directory)
  --timeout SECONDS, --endpoint URL, --region NAME: as for convert
  --debug                show a stack trace on error
  -h, --help             show this help`;

export const CHECK_OPTIONS = {
  output: { type: 'string' },
  tmpdir: { type: 'string' },
  ...NETWORK_OPTIONS,
  debug: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const OMITTED_WHEN_ZERO = new Set(['corruptions', 'leaks', 'allocated-clusters', 'fragmented-clusters', 'compressed-clusters']);

function human(report: CheckReport): string {
  const lines = [...report.messages];
  if (report.corruptions > 0) lines.push('', `${report.corruptions} errors were found on the image.`, 'Data may be corrupted, or further writes to the image may corrupt it.');
  if (report.leaks > 0) lines.push('', `${report.leaks} leaked clusters were found on the image.`, 'This means waste of disk space, but no harm to data.');
  if (report['check-errors'] > 0) lines.push('', `${report['check-errors']} internal errors have occurred during the check.`);
  if (report.corruptions + report.leaks + report['check-errors'] === 0) lines.push('No errors were found on the image.');
  const total = report['total-clusters'];
  const allocated = report['allocated-clusters'];
  const pct = (n: number, of: number) => (of === 0 ? '0.00' : ((100 * n) / of).toFixed(2));
  lines.push(
    `${allocated}/${total} = ${pct(allocated, total)}% allocated, ${pct(report['fragmented-clusters'], allocated)}% fragmented, ${pct(report['compressed-clusters'], allocated)}% compressed clusters`,
    `Image end offset: ${report['image-end-offset']}`,
  );
  return lines.join('\n');
}

export async function checkCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: CHECK_OPTIONS });
  if (values.help) {
    process.stdout.write(`${CHECK_HELP}\n`);
    return 0;
  }
  const output = values.output ?? 'human';
  if (output !== 'human' && output !== 'json') throw new OptionError('--output', `'${output}' is not human or json`);
  if (positionals.length !== 1) throw new OptionError('check', `needs one SRC, got ${positionals.length}`);
  const input = await openByteSource(parseLocation(positionals[0]!), networkOptions(values));
  const report = typeof input === 'string' ? await checkQcow2File(input) : await checkQcow2Stream(input.chunks, { name: positionals[0]!, ...(values.tmpdir !== undefined && { tempDir: values.tmpdir }) });
  const { messages, ...fields } = report;
  // As qemu-img check's JSON: counts that are 0 are left out, bar check-errors.
  const json = Object.fromEntries(Object.entries(fields).filter(([key, value]) => !(OMITTED_WHEN_ZERO.has(key) && value === 0)));
  if (output === 'json') process.stdout.write(`${JSON.stringify({ ...json, ...(messages.length > 0 && { messages }) }, null, 4)}\n`);
  else process.stdout.write(`${human(report)}\n`);
  return checkExitCode(report);
}
