/**
 * npm run bench: qcow2-stream and qemu-img on the same inputs, interleaved in one run, with
 * medians, time ratios, peak RSS and output sizes. Before every timed run the outputs are
 * removed and `sync` flushes pending writeback, so neither tool pays for the other's writes.
 *
 * Options: --runs N (default 5), --only SUBSTRING (contests whose name contains it).
 * Inputs are cached in .bench/ (or $QCOW2_STREAM_BENCH_DIR).
 */
import { execFileSync } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { benchDir, ext4Image, mixedImage, qemuQcow2, removeOutputs } from './inputs.js';
import { measure, median, type RunResult } from './measure.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

interface Contestant {
  label: string;
  command: string;
  args: string[];
  output: string;
  pipeFrom?: string;
  stdoutTo?: string;
}

function runOptions(c: Contestant) {
  return { ...(c.pipeFrom && { pipeFrom: c.pipeFrom }), ...(c.stdoutTo && { stdoutTo: c.stdoutTo }) };
}

interface Contest {
  name: string;
  ours: Contestant;
  qemu: Contestant;
}

function rawToQcow2Contests(dir: string, inputs: Array<[string, string]>): Contest[] {
  const contests: Contest[] = [];
  for (const [name, input] of inputs) {
    const ours = join(dir, `${name}.ours.qcow2`);
    const qemu = join(dir, `${name}.qemu.qcow2`);
    contests.push({
      name: `raw→qcow2 ${name}, file to file`,
      ours: { label: 'qcow2-stream convert -O qcow2 IN OUT', command: process.execPath, args: [CLI, 'convert', '-O', 'qcow2', input, ours], output: ours },
      qemu: { label: 'qemu-img convert -O qcow2 IN OUT', command: 'qemu-img', args: ['convert', '-O', 'qcow2', input, qemu], output: qemu },
    });
    const piped = join(dir, `${name}.ours-pipe.qcow2`);
    contests.push({
      name: `raw→qcow2 ${name}, ours from a pipe to stdout (spooled) vs qemu-img file to file`,
      ours: { label: 'cat IN | qcow2-stream convert -O qcow2 - - >OUT', command: process.execPath, args: [CLI, 'convert', '-O', 'qcow2', '--tmpdir', dir, '-', '-'], output: piped, pipeFrom: input, stdoutTo: piped },
      qemu: { label: 'qemu-img convert -O qcow2 IN OUT', command: 'qemu-img', args: ['convert', '-O', 'qcow2', input, qemu], output: qemu },
    });
  }
  return contests;
}

function qcow2ToRawContests(dir: string, images: Array<[string, string]>): Contest[] {
  return images.flatMap(([name, image]) => {
    const slug = name.replace(/\W+/g, '-');
    const ours = join(dir, `${slug}.ours.raw`);
    const qemu = join(dir, `${slug}.qemu.raw`);
    const qemuSide: Contestant = { label: 'qemu-img convert -f qcow2 -O raw IN OUT', command: 'qemu-img', args: ['convert', '-f', 'qcow2', '-O', 'raw', image, qemu], output: qemu };
    return [
      {
        name: `qcow2→raw ${name}: ours from a pipe, qemu-img from the file`,
        ours: { label: 'cat IN | qcow2-stream convert -f qcow2 -O raw - OUT', command: process.execPath, args: [CLI, 'convert', '-f', 'qcow2', '-O', 'raw', '-', ours], output: ours, pipeFrom: image },
        qemu: qemuSide,
      },
      {
        name: `qcow2→raw ${name}: both from the file`,
        ours: { label: 'qcow2-stream convert -f qcow2 -O raw IN OUT', command: process.execPath, args: [CLI, 'convert', '-f', 'qcow2', '-O', 'raw', image, ours], output: ours },
        qemu: qemuSide,
      },
    ];
  });
}

function compressedContests(dir: string, inputs: Array<[string, string]>): Contest[] {
  const contests: Contest[] = [];
  for (const [name, input] of inputs) {
    const ours = join(dir, `${name}.ours-c.qcow2`);
    const qemu = join(dir, `${name}.qemu-c.qcow2`);
    const oursSide: Contestant = { label: 'qcow2-stream convert -c -O qcow2 IN OUT', command: process.execPath, args: [CLI, 'convert', '-c', '-O', 'qcow2', '--tmpdir', dir, input, ours], output: ours };
    contests.push(
      {
        name: `raw→compressed qcow2 ${name} vs qemu-img -c (defaults)`,
        ours: oursSide,
        qemu: { label: 'qemu-img convert -c -O qcow2 IN OUT', command: 'qemu-img', args: ['convert', '-c', '-O', 'qcow2', input, qemu], output: qemu },
      },
      {
        name: `raw→compressed qcow2 ${name} vs qemu-img -c -m 16 -W`,
        ours: oursSide,
        qemu: { label: 'qemu-img convert -c -m 16 -W -O qcow2 IN OUT', command: 'qemu-img', args: ['convert', '-c', '-m', '16', '-W', '-O', 'qcow2', input, qemu], output: qemu },
      },
    );
    if (name === 'ext4') {
      contests.push({
        name: `raw→compressed qcow2 ${name}, ours compressing twice (no spool) vs qemu-img -c -m 16 -W`,
        ours: { label: 'qcow2-stream convert -c --compress-twice -O qcow2 IN OUT', command: process.execPath, args: [CLI, 'convert', '-c', '--compress-twice', '-O', 'qcow2', input, ours], output: ours },
        qemu: { label: 'qemu-img convert -c -m 16 -W -O qcow2 IN OUT', command: 'qemu-img', args: ['convert', '-c', '-m', '16', '-W', '-O', 'qcow2', input, qemu], output: qemu },
      });
    }
  }
  return contests;
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

async function runContest(contest: Contest, runs: number): Promise<void> {
  const results: Record<'ours' | 'qemu', RunResult[]> = { ours: [], qemu: [] };
  for (let i = 0; i < runs; i++) {
    // Alternate who goes first, so neither always runs on a warmer cache.
    const order: Array<'ours' | 'qemu'> = i % 2 === 0 ? ['ours', 'qemu'] : ['qemu', 'ours'];
    for (const who of order) {
      const c = contest[who];
      await removeOutputs([contest.ours.output, contest.qemu.output]);
      execFileSync('sync');
      results[who].push(await measure(c.command, c.args, runOptions(c)));
    }
  }
  // One more untimed pair for the output sizes.
  for (const who of ['ours', 'qemu'] as const) {
    const c = contest[who];
    await measure(c.command, c.args, runOptions(c));
  }
  const ours = median(results.ours.map((r) => r.seconds));
  const qemu = median(results.qemu.map((r) => r.seconds));
  const oursRss = Math.max(...results.ours.map((r) => r.peakRssKiB));
  const qemuRss = Math.max(...results.qemu.map((r) => r.peakRssKiB));
  const oursSize = (await stat(contest.ours.output)).size;
  const qemuSize = (await stat(contest.qemu.output)).size;
  console.log(`\n## ${contest.name}`);
  console.log(`  ours: ${contest.ours.label}`);
  console.log(`  qemu: ${contest.qemu.label}`);
  console.log(`  median seconds  ours ${ours.toFixed(3)}  qemu ${qemu.toFixed(3)}  ratio ours/qemu ${(ours / qemu).toFixed(2)}`);
  console.log(`  all runs        ours ${results.ours.map((r) => r.seconds.toFixed(3)).join(' ')}  qemu ${results.qemu.map((r) => r.seconds.toFixed(3)).join(' ')}`);
  console.log(`  peak RSS        ours ${(oursRss / 1024).toFixed(1)} MiB  qemu ${(qemuRss / 1024).toFixed(1)} MiB`);
  console.log(`  output size     ours ${mib(oursSize)}  qemu ${mib(qemuSize)}  ratio ${(oursSize / qemuSize).toFixed(4)}`);
  await removeOutputs([contest.ours.output, contest.qemu.output]);
}

const { values } = parseArgs({ options: { runs: { type: 'string' }, only: { type: 'string' } } });
const runs = Number(values.runs ?? 5);
const dir = await benchDir();
const inputs: Array<[string, string]> = [
  ['ext4', await ext4Image(dir)],
  ['mixed', await mixedImage(dir)],
];
const qemuVersion = execFileSync('qemu-img', ['--version']).toString().split('\n')[0];
console.log(`# qcow2-stream bench: ${runs} interleaved runs each, medians; ${qemuVersion}; node ${process.version}`);
for (const [name, path] of inputs) console.log(`  input ${name}: ${path} (${mib((await stat(path)).size)})`);
const qcow2Images: Array<[string, string]> = [
  ['ext4 (qemu-img convert)', await qemuQcow2(dir, inputs[0]![1], 'ext4', false)],
  ['ext4 (qemu-img convert -c)', await qemuQcow2(dir, inputs[0]![1], 'ext4', true)],
];
for (const contest of [...rawToQcow2Contests(dir, inputs), ...qcow2ToRawContests(dir, qcow2Images), ...compressedContests(dir, inputs)]) {
  if (values.only && !contest.name.includes(values.only)) continue;
  await runContest(contest, runs);
}
