/** Runs the built CLI as a user would. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The command line as it ships: the bundle `npm run build` makes (scripts/bundle-cli.mjs). */
export const CLI = fileURLToPath(new URL('../../cli/qcow2-stream.js', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

/**
 * `shell` runs a command line with sh; with `pipefail` it runs with bash -o pipefail, so a
 * pipeline's status is that of its last failing command, not just of its last one.
 * `withoutDacOverride` runs the CLI without the capabilities that let root read any file, so
 * a mode-000 file is unreadable even when the tests run as root.
 */
export function runCli(args: string[], options: { input?: Uint8Array; cwd?: string; withoutDacOverride?: boolean; shell?: string; pipefail?: boolean; env?: Record<string, string> } = {}): Promise<CliResult> {
  const command = options.shell ? (options.pipefail ? 'bash' : 'sh') : options.withoutDacOverride ? 'setpriv' : process.execPath;
  const argv = options.shell
    ? [...(options.pipefail ? ['-o', 'pipefail'] : []), '-c', options.shell]
    : options.withoutDacOverride
      ? ['--bounding-set=-dac_override,-dac_read_search', process.execPath, CLI, ...args]
      : [CLI, ...args];
  return new Promise((resolve, reject) => {
    // Every pooled buffer must come back by the end of every successful command (see src/cli/main.ts).
    const env = { ...process.env, QCOW2_STREAM: `${process.execPath} ${CLI}`, QCOW2_STREAM_DEBUG_BUFFERS: '1', ...options.env };
    const child = spawn(command, argv, { cwd: options.cwd, env });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout: Buffer.concat(out), stderr: err }));
    child.stdin.on('error', () => {});
    if (options.input) child.stdin.end(options.input);
    else child.stdin.end();
  });
}

/** One line, no stack frame: what a user sees on error. */
export function isOneLineError(stderr: string): boolean {
  const lines = stderr.trimEnd().split('\n');
  return lines.length === 1 && lines[0]!.startsWith('qcow2-stream: ') && !/\n\s+at /.test(stderr);
}
