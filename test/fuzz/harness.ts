/**
 * One fuzz case: a mutated image through both of our readers and through qemu-img. It must
 * end, within a time bound, with qemu-img's bytes or with one of our typed errors.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { Qcow2StreamError } from '../../src/errors.js';
import { nodeCodecs } from '../../src/node/codecs.js';
import { Qcow2File } from '../../src/node/qcow2-file.js';
import type { ClusterRecord } from '../../src/stages/clusters.js';
import { decompressClusters } from '../../src/stages/decompress.js';
import { MemoryKeyedStore } from '../../src/stages/keyed-store.js';
import { readQcow2 } from '../../src/stages/qcow2-reader.js';
import { writeRaw } from '../../src/stages/raw-writer.js';

const run = promisify(execFile);

/** Virtual sizes past this are read (to prove the reader ends) but not compared byte for byte. */
export const COMPARED_SIZE = 64 * 1024 * 1024;
export const CASE_TIMEOUT_MS = 10_000;
/** What the streaming reader may keep in memory for a case. */
export const STORE_LIMIT = 64 * 1024 * 1024;

export type Outcome = { ok: true; digest: string | undefined } | { ok: false; error: string; typed: boolean };

async function digestOf(records: AsyncIterable<ClusterRecord>, compare: boolean): Promise<string | undefined> {
  const inflated = decompressClusters({ codecs: nodeCodecs() })(records);
  if (!compare) {
    for await (const record of inflated) void record;
    return undefined;
  }
  const hash = createHash('sha256');
  for await (const chunk of writeRaw()(inflated)) hash.update(chunk);
  return hash.digest('hex');
}

async function outcome(work: () => Promise<string | undefined>): Promise<Outcome> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no end within ${CASE_TIMEOUT_MS} ms`)), CASE_TIMEOUT_MS)));
  try {
    return { ok: true, digest: await Promise.race([work(), timeout]) };
  } catch (error) {
    return { ok: false, error: `${(error as Error).constructor.name}: ${(error as Error).message}`, typed: error instanceof Qcow2StreamError };
  } finally {
    clearTimeout(timer);
  }
}

function virtualSizeOf(image: Uint8Array): number {
  if (image.length < 32) return 0;
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  return view.getUint32(24) * 2 ** 32 + view.getUint32(28);
}

async function* chunks(image: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < image.length; at += size) yield image.subarray(at, at + size);
}

export async function oursStreaming(image: Uint8Array): Promise<Outcome> {
  const compare = virtualSizeOf(image) <= COMPARED_SIZE;
  return outcome(() => digestOf(readQcow2({ store: () => new MemoryKeyedStore(STORE_LIMIT) })(chunks(image, 65536)), compare));
}

export async function oursRandomAccess(path: string, image: Uint8Array): Promise<Outcome> {
  const compare = virtualSizeOf(image) <= COMPARED_SIZE;
  return outcome(async () => {
    const file = await Qcow2File.open(path, { codecs: nodeCodecs() });
    try {
      return await digestOf(file.clusters(), compare);
    } finally {
      await file.close();
    }
  });
}

export async function qemu(path: string, image: Uint8Array): Promise<Outcome> {
  if (virtualSizeOf(image) > COMPARED_SIZE) return { ok: false, error: 'not compared (virtual size)', typed: true };
  const out = `${path}.qemu.raw`;
  try {
    await run('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', path, out], { timeout: 30_000 });
    const digest = createHash('sha256').update(await readFile(out)).digest('hex');
    return { ok: true, digest };
  } catch (error) {
    return { ok: false, error: String((error as { stderr?: string }).stderr ?? error).trim().split('\n')[0]!, typed: true };
  } finally {
    await rm(out, { force: true });
  }
}

export interface Verdict {
  description: string;
  problem: string | undefined;
  qemu: Outcome;
  streaming: Outcome;
  randomAccess: Outcome;
}

/** Runs a case; `problem` says what broke the rules, if anything did. */
export async function judge(path: string, image: Uint8Array, description: string): Promise<Verdict> {
  await writeFile(path, image);
  const [theirs, streaming, randomAccess] = [await qemu(path, image), await oursStreaming(image), await oursRandomAccess(path, image)];
  let problem: string | undefined;
  for (const [name, ours] of [['streaming', streaming], ['random access', randomAccess]] as const) {
    if (!ours.ok && !ours.typed) problem ??= `${name} reader threw an untyped error: ${ours.error}`;
    else if (ours.ok && theirs.ok && ours.digest !== undefined && ours.digest !== theirs.digest) problem ??= `${name} reader gave other bytes than qemu-img`;
    else if (ours.ok && !theirs.ok && theirs.error !== 'not compared (virtual size)') problem ??= `${name} reader accepted what qemu-img refuses (${theirs.error})`;
  }
  if (streaming.ok && randomAccess.ok && streaming.digest !== randomAccess.digest) problem ??= 'the two readers gave different bytes';
  return { description, problem, qemu: theirs, streaming, randomAccess };
}
