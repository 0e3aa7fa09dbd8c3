/** Runs a command and measures wall time and peak RSS (with GNU time's %M, the kernel's ru_maxrss). */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';

export interface RunResult {
  seconds: number;
  peakRssKiB: number;
}

const GNU_TIME = '/usr/bin/time';

/** `stdinFrom` redirects a file to stdin; `pipeFrom` feeds it through `cat |`, a real pipe (cat's time counts). */
export async function measure(command: string, args: string[], options: { stdinFrom?: string; pipeFrom?: string; stdoutTo?: string } = {}): Promise<RunResult> {
  if (!existsSync(GNU_TIME)) throw new Error('npm run bench needs GNU time for peak RSS: apt-get install time');
  const rssFile = `/tmp/qcow2-stream-bench-rss-${process.pid}`;
  const shell = [GNU_TIME, '-f', '%M', '-o', rssFile, command, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
  const redirected = `${options.pipeFrom ? `cat '${options.pipeFrom}' | ` : ''}${shell}${options.stdinFrom ? ` < '${options.stdinFrom}'` : ''}${options.stdoutTo ? ` > '${options.stdoutTo}'` : ''}`;
  const started = process.hrtime.bigint();
  const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn('sh', ['-c', redirected], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (c) => resolve({ code: c, stderr: err }));
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} failed (${code}): ${stderr.trim()}`);
  const peakRssKiB = Number((await readFile(rssFile, 'utf8')).trim().split('\n').pop());
  await rm(rssFile, { force: true });
  return { seconds, peakRssKiB };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
