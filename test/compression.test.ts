/**
 * Compressed qcow2: what we write passes qemu-img check and compares identical, for the
 * input matrix and for narrow refcounts; the same bytes come out whatever the threads and
 * the path; random data stays uncompressed; qemu's compressed images round-trip; and with
 * pako's canonical hashing the streams are byte for byte the ones qemu-img -c writes.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { nodeDeflate } from '../src/codecs/deflate-node.js';
import { pakoDeflate } from '../src/codecs/deflate-pako.js';
import { readL1Entry } from '../src/format/l1-entry.js';
import { readL2Entry } from '../src/format/l2-entry.js';
import { runCli } from './helpers/cli.js';
import { qemuImg, run } from './helpers/corpus.js';
import { join, prng, randomBytes, withTempDir } from './helpers/files.js';
import { edgeInputs, makeExt4 } from './helpers/inputs.js';
import { limiter } from './helpers/limit.js';
import { qemuCheck, qemuCompare, qemuTest } from './helpers/qemu.js';

const slot = limiter(2);

/** qemu-img check's count of compressed clusters (absent from its JSON when none). */
async function compressedClusters(path: string): Promise<number> {
  const { stdout } = await run('qemu-img', ['check', '--output=json', path]);
  return (JSON.parse(stdout) as Record<string, number>)['compressed-clusters'] ?? 0;
}

/** qemu-img check's "compressed clusters" percentage. */
async function compressedShare(path: string): Promise<number> {
  const { stdout } = await run('qemu-img', ['check', path]);
  const match = /([\d.]+)% compressed clusters/.exec(stdout);
  return match ? Number(match[1]) : NaN;
}

qemuTest('compressed output of the input matrix passes check and compare; paths and threads agree', async (t) => {
  await withTempDir(async (dir) => {
    const ext4 = await makeExt4(dir);
    const failures: string[] = [];
    const jobs: Promise<void>[] = [];
    for (const clusterSize of [4096, 65536, 2097152]) {
      const inputs = [...edgeInputs(clusterSize).map((input) => ({ slug: input.slug, bytes: input.bytes, path: '' })), { slug: 'ext4', bytes: undefined, path: ext4 }];
      for (const input of inputs) {
        const raw = input.path || join(dir, `${input.slug}-${clusterSize}.raw`);
        if (!input.path) await writeFile(raw, input.bytes!);
        for (const compat of ['1.1', '0.10']) {
          jobs.push(
            slot(async () => {
              const tag = `${input.slug}-${clusterSize}-${compat}`;
              const options = ['-c', '-O', 'qcow2', '-o', `compat=${compat},cluster_size=${clusterSize}`];
              const out = join(dir, `${tag}.qcow2`);
              const made = await runCli(['convert', ...options, raw, out]);
              if (made.code !== 0) return void failures.push(`${tag}: ${made.stderr}`);
              const verify = async (path: string, how: string) => {
                const check = await qemuCheck(path);
                if (check.code !== 0 || check.corruptions + check.leaks + check.checkErrors > 0) failures.push(`${tag} ${how}: check ${check.raw}`);
                if (!(await qemuCompare(raw, path)).identical) failures.push(`${tag} ${how}: differs from its source`);
              };
              // To a file the image goes head last; to a pipe in order: two layouts, each
              // checked, and each the same bytes whatever the threads or the way it was read.
              await verify(out, 'to a file');
              const piped = `${out}.piped`;
              const pipe = await runCli([], { shell: `cat '${raw}' | $QCOW2_STREAM convert ${options.join(' ')} --spool-memory 64k --tmpdir '${dir}' - - > '${piped}'` });
              if (pipe.code !== 0) return void failures.push(`${tag} through a pipe: ${pipe.stderr}`);
              await verify(piped, 'through a pipe');
              for (const [how, args, expected] of [
                ['one thread', ['convert', ...options, '--threads', '1', raw, `${out}.1`], out],
                ['compressed twice', ['convert', ...options, '--compress-twice', raw, `${out}.2`], piped],
              ] as const) {
                const result = await runCli([...args]);
                if (result.code !== 0) failures.push(`${tag} ${how}: ${result.stderr}`);
                else if (!(await readFile(args.at(-1) as string)).equals(await readFile(expected))) failures.push(`${tag} ${how}: different bytes`);
              }
            }),
          );
        }
      }
    }
    await Promise.all(jobs);
    t.deepEqual(failures, []);
  });
});

/** Every host cluster's refcount, read from the image's refcount table and blocks. */
function refcounts(image: Buffer): number[] {
  const clusterSize = 2 ** image.readUInt32BE(20);
  const bits = image.readUInt32BE(4) >= 3 ? 2 ** image.readUInt32BE(96) : 16;
  const table = Number(image.readBigUInt64BE(48));
  const perBlock = (clusterSize * 8) / bits;
  const counts: number[] = [];
  for (let i = 0; i < (image.readUInt32BE(56) * clusterSize) / 8; i++) {
    const block = Number(image.readBigUInt64BE(table + 8 * i) & ~0x1ffn);
    if (block === 0) continue;
    for (let j = 0; j < perBlock; j++) {
      // Narrow refcounts fill each byte from its lowest bit; wide ones are big-endian.
      if (bits < 8) counts[i * perBlock + j] = (image[block + ((j * bits) >> 3)]! >> ((j * bits) & 7)) & (2 ** bits - 1);
      else if (bits < 64) counts[i * perBlock + j] = image.readUIntBE(block + (j * bits) / 8, bits / 8);
      else counts[i * perBlock + j] = Number(image.readBigUInt64BE(block + j * 8));
    }
  }
  return counts;
}

qemuTest('refcount widths below 16: streams fill a cluster up to the refcount maximum, never past it', async (t) => {
  await withTempDir(async (dir) => {
    // 640 clusters of 16 KiB, each one byte in zeros: streams of a few dozen bytes, hundreds to a cluster.
    const clusterSize = 16384;
    const bytes = new Uint8Array(640 * clusterSize);
    for (let i = 0; i < 640; i++) bytes[i * clusterSize + ((i * 37) % clusterSize)] = (i % 255) + 1;
    const raw = join(dir, 'sparse-bytes.raw');
    await writeFile(raw, bytes);
    for (const refcountBits of [1, 2, 4, 8, 16]) {
      const out = join(dir, `r${refcountBits}.qcow2`);
      const made = await runCli(['convert', '-c', '-O', 'qcow2', '-o', `refcount_bits=${refcountBits},cluster_size=16k`, raw, out]);
      t.is(made.code, 0, made.stderr);
      const check = await qemuCheck(out);
      t.is(check.code, 0, `refcount_bits=${refcountBits}: ${check.raw}`);
      t.is(check.corruptions + check.leaks + check.checkErrors, 0, `refcount_bits=${refcountBits}: ${check.raw}`);
      t.true((await qemuCompare(raw, out)).identical);
      const highest = refcounts(await readFile(out)).reduce((a, b) => Math.max(a, b), 0);
      // 16 bits shows how many streams share a cluster when nothing stops them: more than 8 bits can count.
      if (refcountBits < 16) t.is(highest, 2 ** refcountBits - 1, `refcount_bits=${refcountBits}: the fullest cluster`);
      else t.true(highest > 255, `refcount_bits=16: at most ${highest} streams shared a cluster`);
    }
  });
});

qemuTest('node:zlib and pako write the same bytes at each level; levels 1 and 9 give valid images of different sizes', async (t) => {
  await withTempDir(async (dir) => {
    // Text of random words, where the level matters, with a stretch of random bytes and one of zeros.
    const words = ['disk ', 'image ', 'stream ', 'qcow2 ', 'cluster ', 'sector ', 'guest ', 'host ', 'refcount ', 'table '];
    const next = prng(11);
    const text = new TextEncoder().encode(Array.from({ length: 600_000 }, () => words[next() % words.length]).join(''));
    const bytes = new Uint8Array(6 << 20);
    bytes.set(text.subarray(0, 4 << 20));
    bytes.set(randomBytes(1 << 20, 12), 5 << 20);
    const raw = join(dir, 'text.raw');
    await writeFile(raw, bytes);
    const sizes: number[] = [];
    for (const level of [1, 9]) {
      const images = [];
      for (const codec of ['zlib', 'pako']) {
        const out = join(dir, `${codec}-${level}.qcow2`);
        const made = await runCli(['convert', '-c', '--codec', codec, '-o', `compression_level=${level}`, '-O', 'qcow2', raw, out]);
        t.is(made.code, 0, made.stderr);
        images.push(await readFile(out));
      }
      t.true(images[0]!.equals(images[1]!), `level ${level}: node:zlib and pako wrote different bytes`);
      const out = join(dir, `zlib-${level}.qcow2`);
      const check = await qemuCheck(out);
      t.is(check.code, 0, `level ${level}: ${check.raw}`);
      t.true((await compressedClusters(out)) > 0, `level ${level}: nothing compressed`);
      t.true((await qemuCompare(raw, out)).identical, `level ${level}: differs from its source`);
      sizes.push(images[0]!.length);
    }
    t.true(sizes[1]! < sizes[0]!, `level 9 gave ${sizes[1]} bytes, level 1 ${sizes[0]}`);
  });
});

/** Clusters whose deflate stream, as `measure` gives it, is 2 bytes short of, 1 short of and exactly the cluster size. */
function boundaryClusters(clusterSize: number, measure: (cluster: Uint8Array) => number): Map<number, Uint8Array> {
  const found = new Map<number, Uint8Array>();
  const targets = [clusterSize - 2, clusterSize - 1, clusterSize];
  // Random bytes then zeros: the stream grows with the random part, by a byte or so a step.
  for (let seed = 1; seed < 200 && found.size < targets.length; seed++) {
    for (let random = clusterSize - 80; random <= clusterSize; random++) {
      const cluster = new Uint8Array(clusterSize);
      cluster.set(randomBytes(random, seed));
      const length = measure(cluster);
      if (targets.includes(length) && !found.has(length)) found.set(length, cluster);
    }
  }
  return found;
}

qemuTest('a stream of cluster_size - 2 bytes is stored compressed; of cluster_size - 1 or cluster_size, uncompressed', async (t) => {
  await withTempDir(async (dir) => {
    const clusterSize = 512;
    // Measured with the codec that writes: node:zlib (the default) and pako-legacy (qemu's own streams, so qemu-img -c decides too).
    for (const [codec, deflate] of [['zlib', nodeDeflate(6)], ['pako-legacy', pakoDeflate(6, true)]] as const) {
      const clusters = boundaryClusters(clusterSize, (cluster) => deflate.compress(cluster).length);
      t.is(clusters.size, 3, `${codec}: no input found for every stream length`);
      for (const [length, cluster] of clusters) {
        const tag = `${codec}, a ${length}-byte stream`;
        const raw = join(dir, `${codec}-${length}.raw`);
        await writeFile(raw, cluster);
        const out = join(dir, `${codec}-${length}.qcow2`);
        const made = await runCli(['convert', '-c', '--codec', codec, '-O', 'qcow2', '-o', `cluster_size=${clusterSize}`, raw, out]);
        t.is(made.code, 0, made.stderr);
        const check = await qemuCheck(out);
        t.is(check.code, 0, `${tag}: ${check.raw}`);
        t.true((await qemuCompare(raw, out)).identical, `${tag}: qemu-img reads other bytes`);
        const compressed = await compressedClusters(out);
        t.is(compressed, length <= clusterSize - 2 ? 1 : 0, `${tag}: ${compressed} compressed clusters`);
        if (codec !== 'pako-legacy') continue;
        const theirs = join(dir, `qemu-${length}.qcow2`);
        await qemuImg('convert', '-q', '-c', '-f', 'raw', '-O', 'qcow2', '-o', `cluster_size=${clusterSize}`, raw, theirs);
        t.is(compressed, await compressedClusters(theirs), `${tag}: qemu-img -c decided otherwise`);
      }
    }
  });
});

qemuTest('stripes of text and random data: streams keep filling a cluster across plain ones, as qemu packs them', async (t) => {
  await withTempDir(async (dir) => {
    // 1 MiB stripes: text, random, random, zeros, text, ... (the bench's mixed input, smaller).
    const stripe = 1 << 20;
    const bytes = new Uint8Array(24 * stripe);
    const text = new TextEncoder().encode('lorem ipsum dolor sit amet, consectetur adipiscing elit. ');
    for (let i = 0; i < 24; i++) {
      if (i % 4 === 0) for (let at = 0; at < stripe; at += text.length) bytes.set(text.subarray(0, Math.min(text.length, stripe - at)), i * stripe + at);
      else if (i % 4 !== 3) bytes.set(randomBytes(stripe, i), i * stripe);
    }
    const raw = join(dir, 'stripes.raw');
    await writeFile(raw, bytes);
    const ours = join(dir, 'ours.qcow2');
    const theirs = join(dir, 'theirs.qcow2');
    t.is((await runCli(['convert', '-c', '-O', 'qcow2', raw, ours])).code, 0);
    await qemuImg('convert', '-q', '-c', '-f', 'raw', '-O', 'qcow2', raw, theirs);
    t.is((await qemuCheck(ours)).code, 0);
    t.true((await qemuCompare(raw, ours)).identical);
    const [oursSize, theirsSize] = [(await readFile(ours)).length, (await readFile(theirs)).length];
    t.true(oursSize <= theirsSize * 1.01, `ours ${oursSize} bytes, qemu-img's ${theirsSize}`);
    const piped = await runCli([], { shell: `cat '${raw}' | $QCOW2_STREAM convert -c -O qcow2 - -` });
    t.true(piped.stdout.equals(await readFile(ours)), 'the pipe gives other bytes');
  });
});

qemuTest('random data is stored uncompressed, tried or not; text is compressed', async (t) => {
  await withTempDir(async (dir) => {
    const [random, text] = [randomBytes(1 << 20, 31), new TextEncoder().encode('all work and no play makes a dull disk. '.repeat(30000))];
    for (const [name, bytes, expectCompressed] of [['random', random, false], ['text', text, true]] as const) {
      const raw = join(dir, `${name}.raw`);
      await writeFile(raw, bytes);
      const out = join(dir, `${name}.qcow2`);
      t.is((await runCli(['convert', '-c', '-O', 'qcow2', raw, out])).code, 0);
      const share = await compressedShare(out);
      if (expectCompressed) t.true(share > 90, `${name}: ${share}% compressed`);
      else t.is(share, 0, `${name}: ${share}% compressed`);
      // Deflating every cluster, as qemu-img does, decides the same: the probe only spares the work.
      const tried = join(dir, `${name}-every.qcow2`);
      t.is((await runCli(['convert', '-c', '--compress-every-cluster', '-O', 'qcow2', raw, tried])).code, 0);
      t.true((await readFile(tried)).equals(await readFile(out)), `${name}: deflating every cluster gave other bytes`);
    }
  });
});

qemuTest('a random cluster with one stretch repeated is stored as it is, unless every cluster is to be tried (or pako-legacy asked for)', async (t) => {
  await withTempDir(async (dir) => {
    // The probe's known blind spot: the histogram looks random, yet deflate saves the 2 KiB repeat.
    const cluster = randomBytes(65536, 9);
    cluster.copyWithin(32768, 30720, 32768);
    const raw = join(dir, 'repeat.raw');
    await writeFile(raw, cluster);
    // pako-legacy promises qemu-img's own image, so it tries every cluster too.
    for (const [flags, expected] of [[[], 0], [['--compress-every-cluster'], 1], [['--codec', 'pako-legacy'], 1]] as const) {
      const out = join(dir, `repeat-${flags.join('')}.qcow2`);
      const made = await runCli(['convert', '-c', ...flags, '-O', 'qcow2', raw, out]);
      t.is(made.code, 0, made.stderr);
      t.is((await qemuCheck(out)).code, 0);
      t.true((await qemuCompare(raw, out)).identical);
      t.is(await compressedClusters(out), expected, `${flags.join(' ') || 'default'}: compressed clusters`);
    }
    const alone = await runCli(['convert', '--compress-every-cluster', '-O', 'qcow2', raw, join(dir, 'x.qcow2')]);
    t.is(alone.code, 2);
    t.regex(alone.stderr, /--compress-every-cluster.*-c/);
  });
});

qemuTest("qemu-img's compressed images round-trip through our reader and writer", async (t) => {
  await withTempDir(async (dir) => {
    const raw = await makeExt4(dir);
    for (const type of ['zlib', 'zstd']) {
      const theirs = join(dir, `theirs-${type}.qcow2`);
      await qemuImg('convert', '-q', '-c', '-f', 'raw', '-O', 'qcow2', '-o', `compression_type=${type}`, raw, theirs);
      const ours = join(dir, `ours-${type}.qcow2`);
      const viaPipe = await runCli([], { shell: `cat '${theirs}' | $QCOW2_STREAM convert -c -O qcow2 - '${ours}'` });
      t.is(viaPipe.code, 0, viaPipe.stderr);
      t.is((await qemuCheck(ours)).code, 0);
      t.true((await qemuCompare(raw, ours)).identical, `${type}: recompressed image differs`);
      const back = join(dir, `back-${type}.raw`);
      t.is((await runCli(['convert', '-O', 'raw', theirs, back])).code, 0);
      t.true((await readFile(back)).equals(await readFile(raw)), `${type}: raw from qemu's image differs`);
    }
  });
});

qemuTest("pako with canonical hashing writes the very streams qemu-img -c writes", async (t) => {
  await withTempDir(async (dir) => {
    const raw = await makeExt4(dir);
    const theirs = join(dir, 'theirs.qcow2');
    await qemuImg('convert', '-q', '-c', '-f', 'raw', '-O', 'qcow2', raw, theirs);
    const image = new Uint8Array(await readFile(theirs));
    const source = new Uint8Array(await readFile(raw));
    const view = new DataView(image.buffer);
    const l1 = view.getUint32(44);
    const codec = pakoDeflate(6, true);
    let compared = 0;
    for (let l1Index = 0; l1Index < view.getUint32(36); l1Index++) {
      const { l2Offset } = readL1Entry(new DataView(image.buffer, l1), l1Index);
      if (l2Offset === 0) continue;
      for (let j = 0; j < 8192; j++) {
        const entry = readL2Entry(view, l2Offset + j * 8, j, 16, 3);
        if (entry.kind !== 'compressed') continue;
        const guest = l1Index * 8192 + j;
        const ours = codec.compress(source.subarray(guest * 65536, (guest + 1) * 65536));
        t.deepEqual(image.subarray(entry.hostOffset, entry.hostOffset + ours.length), ours, `guest cluster ${guest}`);
        compared++;
      }
    }
    t.true(compared >= 10, `only ${compared} compressed clusters compared`);
    // And a whole image written with --codec pako-legacy holds those streams too.
    const ours = join(dir, 'ours.qcow2');
    t.is((await runCli(['convert', '-c', '--codec', 'pako-legacy', '-O', 'qcow2', raw, ours])).code, 0);
    t.true((await qemuCompare(raw, ours)).identical);
  });
});
