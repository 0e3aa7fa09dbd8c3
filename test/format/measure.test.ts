import { qemuMeasure } from '../../src/format/measure.js';
import type { ImageOptions } from '../../src/format/layout.js';
import { qemuImg, qemuTest } from '../helpers/qemu.js';

const cases: Array<[ImageOptions, number, string]> = [
  [{ version: 3, clusterSize: 65536, refcountBits: 16 }, 2 ** 30, 'compat=1.1,cluster_size=64k'],
  [{ version: 3, clusterSize: 512, refcountBits: 1 }, 2 ** 30, 'cluster_size=512,refcount_bits=1'],
  [{ version: 3, clusterSize: 2 ** 21, refcountBits: 64 }, 16 * 2 ** 40, 'cluster_size=2M,refcount_bits=64'],
  [{ version: 2, clusterSize: 4096, refcountBits: 16 }, 10 * 2 ** 30 + 512, 'compat=0.10,cluster_size=4k'],
  [{ version: 3, clusterSize: 65536, refcountBits: 16 }, 0, 'cluster_size=64k'],
  [{ version: 3, clusterSize: 65536, refcountBits: 8 }, 4 * 2 ** 40 + 7 * 512, 'cluster_size=64k,refcount_bits=8'],
];

for (const [options, size, qemuOptions] of cases) {
  qemuTest(`qemuMeasure agrees with qemu-img measure --size ${size} -o ${qemuOptions}`, async (t) => {
    const { stdout, stderr, code } = await qemuImg('measure', '--output=json', '-O', 'qcow2', '-o', qemuOptions, '--size', String(size));
    t.is(code, 0, stderr);
    const expected = JSON.parse(stdout) as { required: number; 'fully-allocated': number };
    const ours = qemuMeasure(options, size);
    t.is(ours.fullyAllocated, expected['fully-allocated']);
    t.is(ours.required, expected.required);
  });
}
