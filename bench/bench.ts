/**
 * npm run bench: qcow2-stream and an anchor (qemu-img, the temp-file workaround users type
 * today, or a plain two-pass writer in Python) on the same inputs, interleaved in one run, with
 * medians, time ratios, our peak RSS, output sizes, and each contest's target. Before every
 * timed run the outputs are removed and `sync` flushes pending writeback, so neither side pays
 * for the other's writes.
 *
 * Options: --runs N (default 5), --only SUBSTRING (contests whose name contains it).
 * Inputs are cached in .bench/ (or $QCOW2_STREAM_BENCH_DIR).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { benchDir, ext4Image, mixedImage, qemuQcow2, removeOutputs, smallImage } from './inputs.js';
import { measure, median, type RunResult, type Shell } from './measure.js';

const CLI = fileURLToPath(new URL('../cli/qcow2-stream.js', import.meta.url));
const OURS = [process.execPath, CLI];
/** The Python two-pass writer (qemu's scripts/qcow2-to-stdout.py algorithm), when the shared yardsticks are beside the checkout. */
const PY_WRITER = fileURLToPath(new URL('../../../shared/yardsticks/py-two-pass-writer.py', import.meta.url));

interface Side {
  label: string;
  shell: Shell;
  /** Removed before each run; its size is reported when both sides leave one. */
  output: string;
}

interface Contest {
  name: string;
  ours: Side;
  anchor: Side;
  /** Most ours may take, as a fraction of the anchor's time. */
  ratio?: number;
  /** Most our peak RSS may be, MiB. */
  rssMiB?: number;
  /** Bytes of disk the contest moves, for a throughput figure. */
  diskBytes?: number;
}

const quote = (arg: string): string => `'${arg.replace(/'/g, "'\\''")}'`;
const line = (argv: string[]): string => argv.map(quote).join(' ');

/** A command run as it stands, optionally fed by `cat IN |` and/or drained by `| cat > OUT` (real pipes). */
function side(label: string, argv: string[], output: string, options: { from?: string; toPipe?: boolean; toFile?: boolean } = {}): Side {
  return { label, output, shell: { command: line(argv), ...(options.from && { pipeFrom: options.from }), ...(options.toPipe && { pipeTo: output }), ...(options.toFile && { stdoutTo: output }) } };
}

/** The temp-file workaround for a stream: `cat > t.raw; qemu-img convert t.raw t.qcow2; cat t.qcow2`, between the same pipes. */
function workaround(dir: string, name: string, input: string, output: string): Side {
  const raw = join(dir, `${name}.workaround.raw`);
  const qcow2 = join(dir, `${name}.workaround.qcow2`);
  const script = `cat > ${quote(raw)} && qemu-img convert -f raw -O qcow2 ${quote(raw)} ${quote(qcow2)} && cat ${quote(qcow2)}; rm -f ${quote(raw)} ${quote(qcow2)}`;
  return { label: 'cat IN | { cat > t.raw; qemu-img convert t.raw t.qcow2; cat t.qcow2; } | cat > OUT', output, shell: { command: line(['sh', '-c', script]), pipeFrom: input, pipeTo: output } };
}

function rawToQcow2Contests(dir: string, inputs: Array<[string, string]>): Contest[] {
  return inputs.flatMap(([name, input]): Contest[] => {
    const ours = join(dir, `${name}.ours.qcow2`);
    const qemu = join(dir, `${name}.qemu.qcow2`);
    const qemuFileToFile = side('qemu-img convert -O qcow2 IN OUT', ['qemu-img', 'convert', '-O', 'qcow2', input, qemu], qemu);
    const contests: Contest[] = [
      {
        name: `raw→qcow2 ${name}, file to file`,
        ours: side('qcow2-stream convert -O qcow2 IN OUT', [...OURS, 'convert', '-O', 'qcow2', input, ours], ours),
        anchor: qemuFileToFile,
        ratio: 1.0,
      },
      {
        name: `raw→qcow2 ${name}, pipe to pipe vs the temp-file workaround`,
        ours: side('cat IN | qcow2-stream convert -O qcow2 - - | cat > OUT', [...OURS, 'convert', '-O', 'qcow2', '--tmpdir', dir, '-', '-'], ours, { from: input, toPipe: true }),
        anchor: workaround(dir, name, input, qemu),
        ratio: 0.6,
        rssMiB: 150,
      },
    ];
    if (existsSync(PY_WRITER)) {
      contests.push({
        name: `raw→qcow2 ${name}, file to a pipe vs the Python two-pass writer`,
        ours: side('qcow2-stream convert -O qcow2 IN - | cat > OUT', [...OURS, 'convert', '-O', 'qcow2', input, '-'], ours, { toPipe: true }),
        anchor: side('python3 py-two-pass-writer.py IN | cat > OUT', ['python3', PY_WRITER, input], qemu, { toPipe: true }),
        ratio: 0.6,
        rssMiB: 100,
      });
    }
    return contests;
  });
}

function qcow2ToRawContests(dir: string, images: Array<{ name: string; image: string; ratio: number; rssMiB: number }>): Contest[] {
  return images.flatMap(({ name, image, ratio, rssMiB }): Contest[] => {
    const slug = name.replace(/\W+/g, '-');
    const ours = join(dir, `${slug}.ours.raw`);
    const qemu = join(dir, `${slug}.qemu.raw`);
    const qemuSide = side('qemu-img convert -f qcow2 -O raw IN OUT', ['qemu-img', 'convert', '-f', 'qcow2', '-O', 'raw', image, qemu], qemu);
    return [
      {
        name: `qcow2→raw ${name}: ours pipe to pipe, qemu-img file to file`,
        ours: side('cat IN | qcow2-stream convert -f qcow2 -O raw - - | cat > OUT', [...OURS, 'convert', '-f', 'qcow2', '-O', 'raw', '-', '-'], ours, { from: image, toPipe: true }),
        anchor: qemuSide,
        ratio,
        rssMiB,
      },
      {
        name: `qcow2→raw ${name}: both file to file`,
        ours: side('qcow2-stream convert -f qcow2 -O raw IN OUT', [...OURS, 'convert', '-f', 'qcow2', '-O', 'raw', image, ours], ours),
        anchor: qemuSide,
      },
    ];
  });
}

/** The port the TCP contest uses: the listener's, polled for in /proc/net/tcp before the sender connects. */
const TCP_PORT = 47_391;

function tcpContests(dir: string, inputs: Array<[string, string]>, images: Array<{ name: string; image: string }>): Contest[] {
  return inputs.map(([name, input]): Contest => {
    const ours = join(dir, `${name}.tcp.raw`);
    const listening = `:${TCP_PORT.toString(16).toUpperCase().padStart(4, '0')} 00000000:0000 0A`;
    const script = [
      `${line([...OURS, 'convert', '-f', 'qcow2', '-O', 'raw', `tcp-listen://127.0.0.1:${TCP_PORT}`, ours])} & receiver=$!`,
      `until grep -q ${quote(listening)} /proc/net/tcp; do sleep 0.01; done`,
      `${line([...OURS, 'convert', '-O', 'qcow2', input, `tcp://127.0.0.1:${TCP_PORT}`])} && wait $receiver`,
    ].join('; ');
    const image = images.find((i) => i.name.startsWith(name))!;
    const piped = join(dir, `${name}.tcp-anchor.raw`);
    return {
      name: `raw→qcow2→TCP→raw ${name} on loopback vs qcow2→raw pipe to pipe (throughput at least 80%)`,
      ours: { label: 'qcow2-stream convert -O qcow2 IN tcp://… into convert -f qcow2 -O raw tcp-listen://… OUT', output: ours, shell: { command: line(['sh', '-c', script]) } },
      anchor: side('cat qemu-made.qcow2 | qcow2-stream convert -f qcow2 -O raw - - | cat > OUT', [...OURS, 'convert', '-f', 'qcow2', '-O', 'raw', '-', '-'], piped, { from: image.image, toPipe: true }),
      ratio: 1 / 0.8,
      diskBytes: 2 ** 30,
    };
  });
}

/** What a run costs before any work: against a bare `node -e 0`. */
function startupContests(dir: string, small: string): Contest[] {
  const ours = join(dir, 'small.ours.qcow2');
  const bare = side('node -e 0', [process.execPath, '-e', '0'], join(dir, 'small.none'));
  return [
    { name: 'start-up: a 1 MiB raw→qcow2 conversion vs node -e 0', ours: side('qcow2-stream convert -O qcow2 IN OUT (1 MiB)', [...OURS, 'convert', '-O', 'qcow2', small, ours], ours), anchor: bare, ratio: 1.5 },
    { name: 'start-up: --version vs node -e 0', ours: side('qcow2-stream --version', [...OURS, '--version'], join(dir, 'small.version')), anchor: bare, ratio: 1.15 },
  ];
}

function compressedContests(dir: string, inputs: Array<[string, string]>): Contest[] {
  return inputs.flatMap(([name, input]): Contest[] => {
    const ours = join(dir, `${name}.ours-c.qcow2`);
    const qemu = join(dir, `${name}.qemu-c.qcow2`);
    const oursSide = side('qcow2-stream convert -c -O qcow2 IN OUT', [...OURS, 'convert', '-c', '-O', 'qcow2', '--tmpdir', dir, input, ours], ours);
    const contests: Contest[] = [
      {
        name: `raw→compressed qcow2 ${name} vs qemu-img -c (defaults)`,
        ours: oursSide,
        anchor: side('qemu-img convert -c -O qcow2 IN OUT', ['qemu-img', 'convert', '-c', '-O', 'qcow2', input, qemu], qemu),
      },
      {
        name: `raw→compressed qcow2 ${name} vs qemu-img -c -m 16 -W`,
        ours: oursSide,
        anchor: side('qemu-img convert -c -m 16 -W -O qcow2 IN OUT', ['qemu-img', 'convert', '-c', '-m', '16', '-W', '-O', 'qcow2', input, qemu], qemu),
        ratio: 0.65,
        rssMiB: 150,
      },
    ];
    if (name === 'ext4') {
      contests.push({
        name: `raw→compressed qcow2 ${name}, ours compressing twice (no spool) vs qemu-img -c -m 16 -W`,
        ours: side('qcow2-stream convert -c --compress-twice -O qcow2 IN OUT', [...OURS, 'convert', '-c', '--compress-twice', '-O', 'qcow2', input, ours], ours),
        anchor: side('qemu-img convert -c -m 16 -W -O qcow2 IN OUT', ['qemu-img', 'convert', '-c', '-m', '16', '-W', '-O', 'qcow2', input, qemu], qemu),
      });
    }
    return contests;
  });
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

async function sizeOf(path: string): Promise<number | undefined> {
  return existsSync(path) ? (await stat(path)).size : undefined;
}

async function runContest(contest: Contest, runs: number): Promise<void> {
  const results: Record<'ours' | 'anchor', RunResult[]> = { ours: [], anchor: [] };
  const outputs = [contest.ours.output, contest.anchor.output];
  for (let i = 0; i < runs; i++) {
    // Alternate who goes first, so neither always runs on a warmer cache.
    const order: Array<'ours' | 'anchor'> = i % 2 === 0 ? ['ours', 'anchor'] : ['anchor', 'ours'];
    for (const who of order) {
      await removeOutputs(outputs);
      execFileSync('sync');
      results[who].push(await measure(contest[who].shell));
    }
  }
  const oursSize = await sizeOf(contest.ours.output);
  const anchorSize = await sizeOf(contest.anchor.output);
  const ours = median(results.ours.map((r) => r.seconds));
  const anchor = median(results.anchor.map((r) => r.seconds));
  const ratio = ours / anchor;
  const oursRss = Math.max(...results.ours.map((r) => r.peakRssKiB)) / 1024;
  const anchorRss = Math.max(...results.anchor.map((r) => r.peakRssKiB)) / 1024;
  const verdicts: string[] = [];
  if (contest.ratio !== undefined) verdicts.push(`ratio ≤ ${contest.ratio.toFixed(2)}: ${ratio <= contest.ratio ? 'met' : 'MISSED'}`);
  if (contest.rssMiB !== undefined) verdicts.push(`peak ≤ ${contest.rssMiB} MiB: ${oursRss <= contest.rssMiB ? 'met' : 'MISSED'}`);
  console.log(`\n## ${contest.name}`);
  console.log(`  ours:   ${contest.ours.label}`);
  console.log(`  anchor: ${contest.anchor.label}`);
  console.log(`  median seconds  ours ${ours.toFixed(3)}  anchor ${anchor.toFixed(3)}  ratio ours/anchor ${ratio.toFixed(2)}`);
  console.log(`  all runs        ours ${results.ours.map((r) => r.seconds.toFixed(3)).join(' ')}  anchor ${results.anchor.map((r) => r.seconds.toFixed(3)).join(' ')}`);
  console.log(`  peak RSS        ours ${oursRss.toFixed(1)} MiB  anchor ${anchorRss.toFixed(1)} MiB`);
  if (contest.diskBytes) console.log(`  throughput      ours ${(contest.diskBytes / ours / 1e6).toFixed(0)} MB/s  anchor ${(contest.diskBytes / anchor / 1e6).toFixed(0)} MB/s of disk`);
  if (oursSize !== undefined && anchorSize !== undefined) console.log(`  output size     ours ${mib(oursSize)}  anchor ${mib(anchorSize)}  ratio ${(oursSize / anchorSize).toFixed(4)}`);
  if (verdicts.length > 0) console.log(`  target          ${verdicts.join('; ')}`);
  await removeOutputs(outputs);
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
if (!existsSync(PY_WRITER)) console.log(`  (no ${PY_WRITER}: the Python writer's contests are left out)`);
const images: Array<{ name: string; image: string; ratio: number; rssMiB: number }> = [];
for (const [name, raw] of inputs) {
  images.push({ name: `${name} (qemu-img convert)`, image: await qemuQcow2(dir, raw, name, false), ratio: 1.5, rssMiB: 100 });
  images.push({ name: `${name} (qemu-img convert -c)`, image: await qemuQcow2(dir, raw, name, true), ratio: 0.67, rssMiB: 150 });
}
const contests = [
  ...startupContests(dir, await smallImage(dir, inputs[0]![1])),
  ...rawToQcow2Contests(dir, inputs),
  ...qcow2ToRawContests(dir, images),
  ...tcpContests(dir, inputs, images),
  ...compressedContests(dir, inputs),
];
for (const contest of contests) {
  if (values.only && !contest.name.includes(values.only)) continue;
  await runContest(contest, runs);
}
