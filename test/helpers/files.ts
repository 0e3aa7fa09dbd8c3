/** Temp directories and deterministic inputs for tests. */
import type { ExecutionContext } from 'ava';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readlink, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { release } from '../../src/stages/buffer-pool.js';

const execFileAsync = promisify(execFile);

export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'qcow2-stream-test-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A deterministic pseudo-random generator (xorshift32), so failures reproduce. */
export function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

export function randomBytes(length: number, seed: number): Uint8Array {
  const next = prng(seed);
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i += 4) {
    const v = next();
    bytes[i] = v & 0xff;
    if (i + 1 < length) bytes[i + 1] = (v >>> 8) & 0xff;
    if (i + 2 < length) bytes[i + 2] = (v >>> 16) & 0xff;
    if (i + 3 < length) bytes[i + 3] = v >>> 24;
  }
  return bytes;
}

/** Every chunk, copied; each chunk's reference is released, as a sink would (see src/stages/buffer-pool.ts). */
export async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const chunk of chunks) {
    parts.push(Buffer.from(chunk));
    release(chunk);
  }
  return Buffer.concat(parts);
}

/** Splits bytes into chunks of pseudo-random sizes (1 byte up to `max`). */
export async function* randomChunks(bytes: Uint8Array, seed: number, max = 200_000): AsyncGenerator<Uint8Array> {
  const next = prng(seed);
  for (let at = 0; at < bytes.length; ) {
    const n = 1 + (next() % max);
    yield bytes.slice(at, at + n);
    at += n;
  }
}

export { join };

/**
 * The files process `pid` holds open under `dir`, as /proc/PID/fd shows them (Linux): an
 * unlinked file still open reads '/path (deleted)'. A spool that is unlinked at creation can
 * be seen only this way; one left open shows here after it should have been closed.
 */
export async function openFilesUnder(dir: string, pid: number | 'self' = 'self'): Promise<string[]> {
  const root = `${await realpath(dir)}/`;
  const fds = `/proc/${pid}/fd`;
  const names = await readdir(fds).catch(() => [] as string[]);
  const targets = await Promise.all(names.map((fd) => readlink(join(fds, fd)).catch(() => '')));
  return targets.filter((target) => target.startsWith(root));
}

/** Polls `probe` until it gives a non-empty list (or about `tries` × 50 ms pass); the last list. */
export async function whenSeen<T>(probe: () => Promise<T[]>, tries = 200): Promise<T[]> {
  let seen = await probe();
  for (let i = 0; i < tries && seen.length === 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    seen = await probe();
  }
  return seen;
}

/** True when every path is of an unlinked file, as /proc shows it. */
export function allUnlinked(paths: string[]): boolean {
  return paths.every((path) => path.endsWith(' (deleted)'));
}

/**
 * Where no small filesystem could be mounted: a disk-full test that ran only its fallback says
 * so in the log; in CI (CI=true), where the real thing must be tested, it fails.
 */
export function noSmallFilesystem(t: ExecutionContext, what: string): void {
  if (process.env.CI === 'true' || process.env.CI === '1') t.fail(`tmpfs mount not permitted, so ${what} was not tested (CI must run as root)`);
  else t.log(`tmpfs mount not permitted here: ${what} was not tested, only the fallback`);
}

/**
 * Runs `fn` with a directory that is a tmpfs of `size` (e.g. '1M'), for disk-full tests.
 * Where mounting is not permitted (not root, a locked-down container) it returns false without
 * calling `fn`; callers say so in the test log.
 */
export async function withSmallFilesystem(dir: string, size: string, fn: (mount: string) => Promise<void>): Promise<boolean> {
  const mount = join(dir, `tmpfs-${size}`);
  await mkdir(mount);
  try {
    await execFileAsync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', mount]);
  } catch {
    return false;
  }
  try {
    await fn(mount);
  } finally {
    await execFileAsync('umount', [mount]);
  }
  return true;
}
