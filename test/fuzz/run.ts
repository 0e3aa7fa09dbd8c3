/**
 * npm run fuzz: a longer campaign with a new seed (or --seed N), --cases N (default 20000).
 * Failing inputs are saved to test/fuzz/regressions, where the test suite replays them.
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runCampaign, saveRegression } from './campaign.js';

const { values } = parseArgs({ options: { seed: { type: 'string' }, cases: { type: 'string' } } });
const seed = Number(values.seed ?? Date.now() % 1e9);
const cases = Number(values.cases ?? 20000);
const regressions = fileURLToPath(new URL('../../../test/fuzz/regressions/', import.meta.url));
console.log(`fuzzing ${cases} cases from seed ${seed}`);
const result = await runCampaign(seed, cases, (done) => {
  if (done % 1000 === 0) console.log(`  ${done} cases`);
});
console.log(`outcomes ${JSON.stringify(result.outcomes)}, peak RSS ${(result.peakRssBytes / 2 ** 20).toFixed(0)} MiB`);
for (const failure of result.failures) {
  const path = await saveRegression(regressions, failure);
  console.log(`FAIL ${failure.seedImage} #${failure.caseSeed}: ${failure.description}\n  ${failure.problem}\n  saved ${path}`);
}
console.log(result.failures.length === 0 ? 'no failures' : `${result.failures.length} failures`);
process.exitCode = result.failures.length === 0 ? 0 : 1;
