/**
 * A 4 TiB sparse disk with a few megabytes written at scattered offsets, some past 2^32 and
 * 2^40: holes are skipped, offsets stay exact, and qemu-img reads back the same bytes.
 */
import { open, rm, stat } from 'node:fs/promises';
import { canSkipHoles } from '../../src/node/data-extents.js';
import { writeFileAtomically } from '../../src/node/file-sink.js';
import { toRawClusters } from '../../src/node/convert.js';
import { qcow2Clusters } from '../../src/node/qcow2-source.js';
import { writeRawFile } from '../../src/node/raw-file-sink.js';
import { rawToQcow2 } from '../../src/node/raw-to-qcow2.js';
import { join, randomBytes, withTempDir } from '../helpers/files.js';
import { qemuCheck, qemuCompare, qemuImg, qemuTest } from '../helpers/qemu.js';

const TIB = 2 ** 40;
const OFFSETS = [0, 2 ** 32 - 4096, 2 ** 32 + 12345, 2 ** 40 + 7, 3 * TIB + 65536 * 3 + 511, 4 * TIB - 1_000_000];

qemuTest('4 TiB sparse raw converts with exact offsets past 2^32 and 2^40', async (t) => {
  t.true(canSkipHoles(), 'fs-ext must be built: without SEEK_DATA a 4 TiB file would be read in full');
  await withTempDir(async (dir) => {
    const raw = join(dir, 'sparse.raw');
    const file = await open(raw, 'w');
    await file.truncate(4 * TIB);
    for (const [i, offset] of OFFSETS.entries()) await file.write(randomBytes(1_000_000, i + 1), 0, 1_000_000, offset);
    await file.close();
    for (const compat of ['1.1', '0.10'] as const) {
      const out = join(dir, `sparse-${compat}.qcow2`);
      await writeFileAtomically(out, rawToQcow2(raw, { compat }));
      const check = await qemuCheck(out);
      t.is(check.corruptions + check.leaks + check.checkErrors, 0, check.raw);
      t.is(check.code, 0, check.raw);
      const compare = await qemuCompare(raw, out);
      t.true(compare.identical, compare.output);
      t.true((await stat(out)).size < 20 * 2 ** 20);
      // And back: qcow2 to a sparse raw file, both ways of reading, equal to the source.
      for (const randomAccess of [true, false]) {
        const back = join(dir, `back-${compat}-${randomAccess}.raw`);
        await writeRawFile(back, toRawClusters(qcow2Clusters(out, { randomAccess })));
        const roundTrip = await qemuImg('compare', '-f', 'raw', '-F', 'raw', raw, back);
        t.is(roundTrip.code, 0, `round trip (random access ${randomAccess}): ${roundTrip.stdout}${roundTrip.stderr}`);
        await rm(back);
      }
    }
  });
});
