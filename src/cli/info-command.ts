/** `qcow2-stream info`: what an image is, from its first cluster. */
import { parseArgs } from 'node:util';
import { OptionError } from '../errors.js';
import { formatInfo, imageInfo } from '../node/image-info.js';
import { stdinChunks } from '../node/stdio.js';

export const INFO_HELP = `Usage: qcow2-stream info [--output=human|json] SRC

Prints what SRC is: format and version, virtual size, cluster size, compression type,
features, backing file, how many snapshots, and the disk space it takes (for a file).
Reads a qcow2 stream no further than its first cluster. SRC is a path, or - for stdin.
The JSON uses qemu-img info's field names where qemu has them.

  --output FORMAT        human (default) or json
  --debug                show a stack trace on error
  -h, --help             show this help`;

export const INFO_OPTIONS = {
  output: { type: 'string' },
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
  const source = positionals[0]!;
  const info = await imageInfo(source === '-' ? stdinChunks() : source);
  process.stdout.write(output === 'json' ? `${JSON.stringify(info, null, 4)}\n` : `${formatInfo(info)}\n`);
}
