/** Runs a shell command line and measures wall time and peak RSS (with GNU time's %M, the kernel's ru_maxrss). */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';

export interface RunResult {
  seconds: number;
  peakRssKiB: number;
}

/**
 * A command line (already quoted for sh) and how it is plumbed: `pipeFrom` feeds it through
 * `cat IN |`, `pipeTo` drains it through `| cat > OUT` (real pipes, and the cats' time counts),
 * `stdoutTo` redirects its stdout to a file. Peak RSS is the command's own (or, for a shell
 * script, its largest process's), not the cats'.
 */
export interface Shell {
  command: string;
  pipeFrom?: string;
  pipeTo?: string;
  stdoutTo?: string;
}

const GNU_TIME = '/usr/bin/time';

export async function measure(shell: Shell): Promise<RunResult> {
  if (!existsSync(GNU_TIME)) throw new Error('npm run bench needs GNU time for peak RSS: apt-get install time');
  const rssFile = `/tmp/qcow2-stream-bench-rss-${process.pid}`;
  const timed = `${GNU_TIME} -f %M -o '${rssFile}' ${shell.command}`;
  const redirected = `${shell.pipeFrom ? `cat '${shell.pipeFrom}' | ` : ''}${timed}${shell.pipeTo ? ` | cat > '${shell.pipeTo}'` : ''}${shell.stdoutTo ? ` > '${shell.stdoutTo}'` : ''}`;
  const started = process.hrtime.bigint();
  const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    // pipefail: a failure anywhere in the pipeline fails the run.
    const child = spawn('bash', ['-o', 'pipefail', '-c', redirected], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (c) => resolve({ code: c, stderr: err }));
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (code !== 0) throw new Error(`${redirected} failed (${code}): ${stderr.trim()}`);
  const peakRssKiB = Number((await readFile(rssFile, 'utf8')).trim().split('\n').pop());
  await rm(rssFile, { force: true });
  return { seconds, peakRssKiB };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
