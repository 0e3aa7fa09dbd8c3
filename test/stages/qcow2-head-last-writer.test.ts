/**
 * The head-last writer: data first, header and tables after. Put back in file order with no
 * padding, it is byte for byte what the in-order writer gives; with the data pushed out by
 * padding (an S3 head part of 5 MiB, a reserved head in a file) qemu-img finds the image
 * clean and identical to its source.
 */
import test from 'ava';
import { writeFile } from 'node:fs/promises';
import { LimitError } from '../../src/errors.js';
import { AllocationMap } from '../../src/format/allocation-map.js';
import { l2Entries, maxVirtualSize } from '../../src/format/geometry.js';
import { planLayout, worstCaseHeadLength } from '../../src/format/layout.js';
import { toQcow2, toQcow2HeadLast } from '../../src/node/convert.js';
import { rawClusters } from '../../src/node/raw-source.js';
import type { HeadLastSegment } from '../../src/stages/qcow2-head-last-writer.js';
import { collect, join, randomBytes, withTempDir } from '../helpers/files.js';
import { edgeInputs } from '../helpers/inputs.js';
import { qemuCheck, qemuCompare, qemuTest } from '../helpers/qemu.js';

/** The image in file order: the head planned at `minDataOffset`, then the data region. */
async function assemble(segments: AsyncIterable<HeadLastSegment>, minDataOffset: (begin: { clusterSize: number; virtualSize?: number }) => number): Promise<{ image: Buffer; dataOffset: number }> {
  const data: Uint8Array[] = [];
  let wanted = 0;
  for await (const segment of segments) {
    if (segment.kind === 'begin') wanted = minDataOffset(segment);
    else if (segment.kind === 'data') data.push(segment.bytes.slice());
    else {
      const { layout, chunks } = segment.plan(wanted);
      const head = Buffer.concat([...chunks]);
      if (head.length !== layout.dataOffset) throw new Error(`head is ${head.length} bytes, the plan says ${layout.dataOffset}`);
      const image = Buffer.concat([head, ...data]);
      if (image.length !== layout.totalLength) throw new Error(`image is ${image.length} bytes, the plan says ${layout.totalLength}`);
      return { image, dataOffset: layout.dataOffset };
    }
  }
  throw new Error('no head segment');
}

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

const stripes = (() => {
  const bytes = new Uint8Array(6 << 20);
  const text = new TextEncoder().encode('qcow2 head last; '.repeat(4096));
  for (let at = 0; at < bytes.length; at += 1 << 20) {
    if ((at >> 20) % 3 === 0) bytes.set(randomBytes(1 << 20, at + 1), at);
    else if ((at >> 20) % 3 === 1) bytes.set(text.subarray(0, 1 << 20), at);
  }
  return bytes;
})();

test('with no padding, the head-last image is the in-order writer\'s, byte for byte', async (t) => {
  for (const clusterSize of [512, 65536]) {
    for (const input of [...edgeInputs(clusterSize), { name: 'stripes', bytes: stripes }]) {
      for (const compress of [false, true]) {
        for (const options of [{ compat: '1.1' as const, refcountBits: 16 }, { compat: '0.10' as const }, { compat: '1.1' as const, refcountBits: 2 }]) {
          const tag = `${input.name}, ${clusterSize}, ${compress ? 'compressed' : 'plain'}, ${JSON.stringify(options)}`;
          const common = { clusterSize, compress, threads: 1, ...options };
          const inOrder = await collect(toQcow2(rawClusters(once(input.bytes), { clusterSize }), common));
          const { image } = await assemble(toQcow2HeadLast(rawClusters(once(input.bytes), { clusterSize }), common), () => 0);
          t.true(image.equals(inOrder), tag);
        }
      }
    }
  }
});

qemuTest('with the data pushed out by padding, qemu-img finds the image clean and identical to its source', async (t) => {
  await withTempDir(async (dir) => {
    const raw = join(dir, 'stripes.raw');
    await writeFile(raw, stripes);
    for (const clusterSize of [4096, 65536]) {
      for (const compress of [false, true]) {
        for (const padding of ['5 MiB + 1', 'worst case'] as const) {
          const tag = `${clusterSize}, ${compress ? 'compressed' : 'plain'}, ${padding}`;
          const options = { clusterSize, compress, refcountBits: compress ? 4 : 16 };
          const { image, dataOffset } = await assemble(toQcow2HeadLast(rawClusters(once(stripes), { clusterSize }), options), (begin) =>
            padding === '5 MiB + 1' ? (5 << 20) + 1 : worstCaseHeadLength({ version: 3, clusterSize, refcountBits: options.refcountBits }, begin.virtualSize ?? stripes.length),
          );
          if (padding === '5 MiB + 1') t.is(dataOffset, Math.ceil(((5 << 20) + 1) / clusterSize) * clusterSize, tag);
          const out = join(dir, `out-${clusterSize}-${compress}-${padding.replace(/\W/g, '')}.qcow2`);
          await writeFile(out, image);
          const check = await qemuCheck(out);
          t.is(check.corruptions + check.leaks + check.checkErrors, 0, `${tag}: ${check.raw}`);
          t.is(check.code, 0, tag);
          t.true((await qemuCompare(raw, out)).identical, tag);
        }
      }
    }
  });
});

test('the worst-case head holds the head of a fully allocated image, plain or compressed', (t) => {
  for (const clusterSize of [512, 4096, 65536, 2097152]) {
    for (const refcountBits of [1, 16, 64]) {
      for (const virtualSize of [0, 512, clusterSize * 1000 + 512, 2 ** 40]) {
        if (virtualSize > maxVirtualSize(clusterSize)) continue;
        const options = { version: 3 as const, clusterSize, refcountBits };
        let worst: number;
        try {
          worst = worstCaseHeadLength(options, virtualSize);
        } catch (error) {
          t.true(error instanceof LimitError); // too big to reserve: the sink spools instead
          continue;
        }
        const clusters = Math.ceil(virtualSize / clusterSize);
        const full = new AllocationMap(l2Entries(clusterSize));
        if (clusters > 0) full.addData(0, clusters);
        const maps = [full];
        if (clusters <= 2000) {
          // Streams of a cluster less one byte, the longest kept compressed: the most padding.
          const packed = new AllocationMap(l2Entries(clusterSize));
          for (let i = 0; i < clusters; i++) packed.addCompressed(i, clusterSize - 1);
          maps.push(packed);
        }
        for (const map of maps) {
          const tag = `${clusterSize} ${refcountBits} ${virtualSize} ${map === full ? 'plain' : 'compressed'}`;
          t.true(planLayout(options, virtualSize, map).dataOffset <= worst, tag);
          t.is(planLayout(options, virtualSize, map, worst).dataOffset, worst, tag);
        }
      }
    }
  }
});
