/**
 * A fuzz campaign: mutations of qemu-made seeds, each judged against qemu-img (harness.ts).
 * Used by the test suite (fixed seed, a few thousand cases) and by `npm run fuzz` (new seed,
 * longer, failing inputs saved as regression tests).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { judge, type Verdict } from './harness.js';
import { mutate } from './mutate.js';
import { makeSeeds } from './seeds.js';

export interface CampaignResult {
  cases: number;
  failures: Array<Verdict & { seedImage: string; caseSeed: number; image: Uint8Array }>;
  /** How the cases ended, to show the fuzzer reaches both outcomes. */
  outcomes: { sameBytes: number; refused: number; bothRefused: number };
  peakRssBytes: number;
}

export async function runCampaign(firstSeed: number, cases: number, onProgress?: (done: number) => void): Promise<CampaignResult> {
  const dir = await mkdtemp(join(tmpdir(), 'qcow2-stream-fuzz-'));
  const result: CampaignResult = { cases, failures: [], outcomes: { sameBytes: 0, refused: 0, bothRefused: 0 }, peakRssBytes: 0 };
  try {
    const seeds = await makeSeeds(dir);
    for (let i = 0; i < cases; i++) {
      const caseSeed = firstSeed + i;
      const seed = seeds[caseSeed % seeds.length]!;
      const { image, description } = mutate(seed.image, caseSeed);
      const verdict = await judge(join(dir, 'case.qcow2'), image, description);
      if (verdict.problem) result.failures.push({ ...verdict, seedImage: seed.name, caseSeed, image });
      else if (verdict.streaming.ok && verdict.qemu.ok) result.outcomes.sameBytes++;
      else if (!verdict.qemu.ok && !verdict.streaming.ok) result.outcomes.bothRefused++;
      else result.outcomes.refused++;
      result.peakRssBytes = Math.max(result.peakRssBytes, process.memoryUsage().rss);
      onProgress?.(i + 1);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return result;
}

/** Saves a failing input where the regression test replays it. */
export async function saveRegression(directory: string, failure: CampaignResult['failures'][number]): Promise<string> {
  const path = join(directory, `case-${failure.caseSeed}.qcow2`);
  await writeFile(path, failure.image);
  await writeFile(`${path}.txt`, `${failure.seedImage}, seed ${failure.caseSeed}: ${failure.description}\n${failure.problem}\n`);
  return path;
}
