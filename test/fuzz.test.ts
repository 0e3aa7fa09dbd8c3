/**
 * The mutation fuzzer, fixed seed: every mutated image ends, within a time bound, with the
 * bytes qemu-img gives or with one of our typed errors, in both readers; memory stays
 * bounded. Inputs a longer run (npm run fuzz) found are replayed from test/fuzz/regressions.
 */
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { runCampaign } from './fuzz/campaign.js';
import { judge } from './fuzz/harness.js';
import { join, withTempDir } from './helpers/files.js';
import { qemuTest } from './helpers/qemu.js';

const CASES = Number(process.env.QCOW2_STREAM_FUZZ_CASES ?? 2000);
const regressions = fileURLToPath(new URL('../../test/fuzz/regressions/', import.meta.url));

qemuTest(`${CASES} mutated images: qemu-img's bytes or a typed error, never a hang, a crash or unbounded memory`, async (t) => {
  const result = await runCampaign(20261124, CASES);
  t.deepEqual(
    result.failures.map((f) => `${f.seedImage} #${f.caseSeed}: ${f.description} -> ${f.problem}`),
    [],
  );
  t.log(`outcomes: ${JSON.stringify(result.outcomes)}, peak RSS ${(result.peakRssBytes / 2 ** 20).toFixed(0)} MiB`);
  // The mutations must reach both sides of the rule, or the test proves little.
  t.true(result.outcomes.sameBytes > CASES / 10, 'too few mutated images were still readable');
  t.true(result.outcomes.bothRefused + result.outcomes.refused > CASES / 10, 'too few mutated images were refused');
  t.true(result.peakRssBytes < 1024 * 2 ** 20, `peak RSS ${result.peakRssBytes}`);
});

qemuTest('inputs the fuzzer once broke us with stay fixed', async (t) => {
  const files = (await readdir(regressions)).filter((name) => name.endsWith('.qcow2'));
  await withTempDir(async (dir) => {
    for (const name of files) {
      const image = new Uint8Array(await readFile(join(regressions, name)));
      const verdict = await judge(join(dir, 'case.qcow2'), image, name);
      t.is(verdict.problem, undefined, name);
    }
  });
  t.pass(`${files.length} regression inputs`);
});
