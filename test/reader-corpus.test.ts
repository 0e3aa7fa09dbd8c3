/**
 * The reader against images qemu made: fed through a pipe, and read with random access, it
 * gives the bytes `qemu-img convert -O raw` gives, for every layout and feature in the corpus.
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './helpers/cli.js';
import { buildCorpus, run, type CorpusImage } from './helpers/corpus.js';
import { limiter } from './helpers/limit.js';
import { hasQemu, qemuTest } from './helpers/qemu.js';

let dir = '';
let corpus: CorpusImage[] = [];

test.before(async () => {
  if (!hasQemu && process.env.CI !== 'true') return;
  dir = await mkdtemp(join(tmpdir(), 'qcow2-stream-corpus-'));
  corpus = await buildCorpus(dir);
});

test.after.always(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

const slot = limiter(2);
const HUGE = ['sparse-8t'];

qemuTest('every corpus image reads, through a pipe, as qemu-img convert -O raw reads it', async (t) => {
  t.true(corpus.length >= 25, `corpus has ${corpus.length} images`);
  const failures: string[] = [];
  await Promise.all(
    corpus.filter((image) => !HUGE.includes(image.name)).map((image) =>
      slot(async () => {
        const reference = join(dir, `${image.name}.reference.raw`);
        await run('qemu-img', ['convert', '-O', 'raw', image.path, reference]);
        const expected = await sha256File(reference);
        await rm(reference);
        const backing = image.backing ? `-B '${image.backing}'` : '';
        const result = await runCli([], { shell: `cat '${image.path}' | $QCOW2_STREAM convert -f qcow2 -O raw ${backing} - - | sha256sum` });
        if (result.stdout.toString().split(' ')[0] !== expected) failures.push(`${image.name} through a pipe: wrong bytes ${result.stderr}`);
        for (const warning of image.warnings ?? []) if (!new RegExp(`warning: .*${warning}`).test(result.stderr)) failures.push(`${image.name}: no ${warning} warning`);
        if (!image.warnings && result.stderr !== '') failures.push(`${image.name}: unexpected stderr ${result.stderr}`);
      }),
    ),
  );
  t.deepEqual(failures, []);
});

qemuTest('random access and the forward-only reader give the same bytes as qemu-img, as sparse raw files', async (t) => {
  const failures: string[] = [];
  await Promise.all(
    corpus.map((image) =>
      slot(async () => {
        const backing = image.backing ? ['-B', image.backing] : [];
        for (const mode of [[], ['--sequential']]) {
          const out = join(dir, `${image.name}${mode.length ? '.seq' : ''}.raw`);
          const result = await runCli(['convert', '-f', 'qcow2', '-O', 'raw', ...mode, ...backing, image.path, out]);
          if (result.code !== 0) failures.push(`${image.name} ${mode.join(' ')}: ${result.stderr}`);
          const compare = await run('qemu-img', ['compare', '-f', 'raw', '-F', 'qcow2', out, image.path]).then(
            () => 'identical',
            (error: { stdout?: string; stderr?: string }) => `${error.stdout ?? ''}${error.stderr ?? ''}`,
          );
          if (compare !== 'identical') failures.push(`${image.name} ${mode.join(' ')}: ${compare}`);
          await rm(out, { force: true });
        }
      }),
    ),
  );
  t.deepEqual(failures, []);
  t.deepEqual((await readdir(dir)).filter((name) => name.includes('.partial')), []);
});
