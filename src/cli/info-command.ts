/** `qcow2-stream info`: what an image is, from its first cluster. */
import { parseArgs } from 'node:util';
import { OptionError } from '../errors.js';
import { formatInfo, imageInfo } from '../node/image-info.js';
import { parseLocation } from '../node/net/location.js';
import { openByteSource } from '../node/sources.js';
import { NETWORK_OPTIONS, networkOptions } from './network-options.js';

export const INFO_HELP = `Usage: qcow2-stream info [--output=human|json] SRC

Prints what SRC is: format and version, virtual size, cluster size, compression type,
features, backing file, how many snapshots, and the disk space it takes (for a file).
Reads a qcow2 stream no further than its first cluster. SRC is a path, or any stream
convert reads (-, a URL, s3://, tcp://).
The JSON uses qemu-img info's field names where qemu has them.

  --output FORMAT        human (default) or json
  --timeout SECONDS, --endpoint URL, --region NAME: as for convert
  --debug                show a stack trace on error
  -h, --help             show this help`;

export const INFO_OPTIONS = {
  output: { type: 'string' },
  ...NETWORK_OPTIONS,
  debug: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function infoCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: INFO_OPTIONS });
  if (values.help) {
    process.stdout.write(`${INFO_HELP}\n`);
    return;
  }
  const output = values.output ?? 'human';
  if (output !== 'human' && output !== 'json') throw new OptionError('--output', `'${output}' is not human or json`);
  if (positionals.length !== 1) throw new OptionError('info', `needs one SRC, got ${positionals.length}`);
  const input = await openByteSource(parseLocation(positionals[0]!), networkOptions(values));
  const info = await imageInfo(typeof input === 'string' ? input : input.chunks);
  process.stdout.write(output === 'json' ? `${JSON.stringify(info, null, 4)}\n` : `${formatInfo(info)}\n`);
}
