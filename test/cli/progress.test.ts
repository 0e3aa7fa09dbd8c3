/** -p and -q: a progress line that counts to the total, warnings that -q silences. */
import test from 'ava';
import { writeFile } from 'node:fs/promises';
import { formatDuration, progressLine, ProgressMeter } from '../../src/cli/progress.js';
import { runCli } from '../helpers/cli.js';
import { join, randomBytes, withTempDir } from '../helpers/files.js';

test('the progress line: percent, bytes of total, rate, time left', (t) => {
  t.is(progressLine(512 << 20, 1 << 30, 128 << 20), ' 50.0%, 512 MiB of 1 GiB, 128 MiB/s, 0:04 left');
  t.is(progressLine(3 << 20, undefined, 1 << 20), '3 MiB, 1 MiB/s');
  t.is(progressLine(1 << 30, 1 << 30, 0), '100.0%, 1 GiB of 1 GiB, 0 B/s');
  t.is(formatDuration(3725), '1:02:05');
  t.is(formatDuration(Infinity), '?');
});

test('the meter draws at most every 2 s off a terminal, with the rate over its window', (t) => {
  let now = 0;
  const lines: string[] = [];
  const meter = new ProgressMeter({ write: (s: string) => lines.push(s) } as unknown as NodeJS.WritableStream, false, () => now);
  for (let second = 0; second <= 10; second++) {
    now = second * 1000;
    meter.update(second * (10 << 20), 100 << 20);
  }
  meter.finish();
  t.is(lines.length, 7); // at 0, 2, 4, 6, 8, 10 s, and the final one
  t.is(lines.at(-1), '100.0%, 100 MiB of 100 MiB, 10 MiB/s\n');
});

test('-p with --progress-force reports on stderr; -q silences warnings', async (t) => {
  await withTempDir(async (dir) => {
    const raw = join(dir, 'in.raw');
    await writeFile(raw, randomBytes(3 << 20, 9));
    const shown = await runCli(['convert', '--progress-force', '-O', 'qcow2', raw, join(dir, 'out.qcow2')]);
    t.is(shown.code, 0, shown.stderr);
    t.regex(shown.stderr, /100\.0%, 3 MiB of 3 MiB/);
    const hidden = await runCli(['convert', '-p', '-O', 'qcow2', raw, join(dir, 'out2.qcow2')]);
    t.is(hidden.stderr, '', 'stderr is not a terminal: -p alone shows nothing');
    // A dirty image warns; -q keeps quiet.
    const dirty = join(dir, 'dirty.qcow2');
    await runCli(['convert', '-O', 'qcow2', raw, dirty]);
    const { open } = await import('node:fs/promises');
    const file = await open(dirty, 'r+');
    const word = Buffer.alloc(4);
    await file.read(word, 0, 4, 76);
    word.writeUInt32BE(word.readUInt32BE(0) | 1);
    await file.write(word, 0, 4, 76);
    await file.close();
    const loud = await runCli(['convert', '-O', 'raw', dirty, join(dir, 'a.raw')]);
    t.regex(loud.stderr, /warning: .*dirty/);
    const quiet = await runCli(['convert', '-q', '-O', 'raw', dirty, join(dir, 'b.raw')]);
    t.is(quiet.code, 0);
    t.is(quiet.stderr, '');
  });
});
