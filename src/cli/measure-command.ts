/** `qcow2-stream measure`: how big a qcow2 image would be, as qemu-img measure says and exactly. */
import { parseArgs } from 'node:util';
import { OptionError } from '../errors.js';
import { qemuMeasure } from '../format/measure.js';
import { openSource } from '../node/convert.js';
import { measureConversion } from '../node/measure-conversion.js';
import { parseLocation } from '../node/net/location.js';
import { openByteSource } from '../node/sources.js';
import { imageOptionsFor } from '../stages/qcow2-writer.js';
import { NETWORK_OPTIONS, networkOptions } from './network-options.js';
import { CREATE_OPTION_HELP, parseCreateOptions } from './image-options.js';
import { parseSize } from './sizes.js';
import { warn } from './warn.js';

export const MEASURE_HELP = `Usage: qcow2-stream measure [-O qcow2] [-o OPTIONS] [-c] (--size SIZE | [-f FORMAT] SRC)

Prints how many bytes a qcow2 image would take, with qemu-img measure's two figures:
"required size" (metadata for the whole disk plus the data there is) and "fully
allocated size" (every cluster written). Given a SRC (any location convert reads: a
path, -, a URL, s3://, tcp://), it also reads it through the conversion, writing
nothing, and prints the exact size convert writes (to a file, a pipe, HTTP or TCP; an
S3 object may be padded so that its first part is 5 MiB).

  -O qcow2               the output format (the only one measured)
  -o OPTIONS             qcow2 options, as for convert:
${CREATE_OPTION_HELP}
  -c                     measure compressed output (the exact size only; qemu's figures
                         are for uncompressed data)
  --compress-every-cluster
                         with -c: as for convert (deflate even clusters that look random)
  --size SIZE            measure an empty disk of this virtual size instead of a SRC
  -f FORMAT              SRC's format, raw or qcow2 (default: probed)
  -B, --backing PATH     the backing image of a qcow2 SRC
  --output FORMAT        human (default) or json (qemu-img measure's field names, plus "exact")
  --timeout SECONDS, --endpoint URL, --region NAME: as for convert
  --debug                show a stack trace on error
  -h, --help             show this help`;

export const MEASURE_OPTIONS = {
  O: { type: 'string' },
  o: { type: 'string', multiple: true },
  c: { type: 'boolean' },
  'compress-every-cluster': { type: 'boolean' },
  size: { type: 'string' },
  f: { type: 'string' },
  backing: { type: 'string', short: 'B' },
  output: { type: 'string' },
  ...NETWORK_OPTIONS,
  debug: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function measureCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: MEASURE_OPTIONS });
  if (values.help) {
    process.stdout.write(`${MEASURE_HELP}\n`);
    return;
  }
  if (values.O !== undefined && values.O !== 'qcow2') throw new OptionError('-O', `only qcow2 is measured, not '${values.O}'`);
  const output = values.output ?? 'human';
  if (output !== 'human' && output !== 'json') throw new OptionError('--output', `'${output}' is not human or json`);
  if (values.f !== undefined && values.f !== 'raw' && values.f !== 'qcow2') throw new OptionError('-f', `'${values.f}' is not raw or qcow2`);
  const create = parseCreateOptions(values.o ?? []);
  const size = values.size !== undefined ? parseSize(values.size, '--size') : create.size;
  if ((size === undefined) === (positionals.length === 0) || positionals.length > 1) {
    throw new OptionError('measure', 'needs either --size SIZE or one SRC');
  }
  const image = imageOptionsFor({ compat: create.compat, refcountBits: create.refcountBits }, create.clusterSize);
  let figures: Record<string, number>;
  if (size !== undefined) {
    if (values.c) throw new OptionError('-c', 'needs a SRC: an empty disk has nothing to compress');
    const { required, fullyAllocated } = qemuMeasure(image, size);
    figures = { required, 'fully-allocated': fullyAllocated };
  } else {
    const input = await openByteSource(parseLocation(positionals[0]!), networkOptions(values));
    const { records } = await openSource(typeof input === 'string' ? input : input.chunks, {
      clusterSize: create.clusterSize,
      ...(values.f !== undefined && { format: values.f }),
      ...(values.backing !== undefined && { backing: values.backing }),
      onWarning: warn,
    });
    const measured = await measureConversion(records, { compat: create.compat, clusterSize: create.clusterSize, refcountBits: create.refcountBits, compress: values.c ?? false, ...(values['compress-every-cluster'] && { compressEveryCluster: true }), ...(create.compressionLevel !== undefined && { level: create.compressionLevel }) });
    figures = { required: measured.required, 'fully-allocated': measured.fullyAllocated, exact: measured.exact };
  }
  if (output === 'json') {
    process.stdout.write(`${JSON.stringify(figures, null, 4)}\n`);
    return;
  }
  const lines = [`required size: ${figures['required']}`, `fully allocated size: ${figures['fully-allocated']}`];
  if (figures['exact'] !== undefined) lines.push(`exact size: ${figures['exact']}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}
