/**
 * A quick test for clusters deflate cannot shrink: encrypted or already-compressed data,
 * whose bytes are as good as uniformly random. Deflating such a cluster is the slowest
 * work of all (about 110 MB/s a core here) and ends with it stored uncompressed anyway.
 *
 * Two signs of randomness must both hold, checked cheapest first:
 * - the byte histogram's entropy (order 0, the heuristic btrfs uses before compressing),
 *   counted over every byte and within a hair of what random bytes give;
 * - no repeats: sampled 4-byte strings are all different. Periodic data (a table of
 *   records, a counter modulo 255) can have a flat histogram but repeats at every period.
 * What it cannot see is a random cluster with one stretch repeated at an unsampled shift;
 * such a cluster is stored as it is and loses the bytes deflate would have saved.
 */

/** Bytes looked at in the first, sampled pass; far below random entropy means compressible. */
const SAMPLE = 4096;
const SAMPLE_CUTOFF = 7.8;
/** How far below random bytes' expected entropy a cluster may be and still be called random. */
const MARGIN = 0.0075;
/** Repeated samples allowed: among 4096 random 32-bit values a repeat has odds of about 1 in 500. */
const REPEATS_ALLOWED = 2;

const counts = new Uint32Array(4 * 256);
const seen = new Uint32Array(2 * SAMPLE);
const used = new Uint8Array(2 * SAMPLE);

/** Entropy in bits per byte of `n` bytes taken every `stride` bytes from the start. */
function entropy(bytes: Uint8Array, stride: number, n: number): number {
  counts.fill(0);
  if (stride === 1) {
    // Four histograms, merged after: consecutive bytes rarely wait on the same counter.
    const whole = n - (n % 4);
    for (let at = 0; at < whole; at += 4) {
      counts[bytes[at]!]!++;
      counts[256 + bytes[at + 1]!]!++;
      counts[512 + bytes[at + 2]!]!++;
      counts[768 + bytes[at + 3]!]!++;
    }
    for (let at = whole; at < n; at++) counts[bytes[at]!]!++;
  } else {
    for (let i = 0, at = 0; i < n; i++, at += stride) counts[bytes[at]!]!++;
  }
  let sum = 0;
  for (let b = 0; b < 256; b++) {
    const c = counts[b]! + counts[256 + b]! + counts[512 + b]! + counts[768 + b]!;
    if (c > 0) sum += c * Math.log2(c);
  }
  return Math.log2(n) - sum / n;
}

/** The entropy a sample of n uniformly random bytes has on average (Miller's bias correction). */
function randomEntropy(n: number): number {
  return 8 - 255 / (2 * n * Math.LN2);
}

/**
 * How many of up to SAMPLE evenly spaced 4-byte strings equal one taken before. Data with a
 * period shorter than the samples has at most that many different strings, so it repeats
 * whatever the spacing; deflate's matches reach back less than 4 KiB, so longer periods
 * are nothing it could use.
 */
function repeatedSamples(bytes: Uint8Array): number {
  const stride = Math.max(1, Math.floor((bytes.length - 4) / SAMPLE));
  used.fill(0);
  let repeats = 0;
  for (let i = 0, at = 0; i < SAMPLE && at + 4 <= bytes.length; i++, at += stride) {
    const value = (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
    let slot = Math.imul(value, 0x9e3779b1) >>> 19; // 13 bits: 2 * SAMPLE slots
    while (used[slot] && seen[slot] !== value) slot = (slot + 1) % seen.length;
    if (used[slot]) repeats++;
    else {
      used[slot] = 1;
      seen[slot] = value;
    }
  }
  return repeats;
}

/** True when `cluster` looks like random bytes, which deflate would only make longer. */
export function looksIncompressible(cluster: Uint8Array): boolean {
  if (cluster.length < SAMPLE) return false;
  if (entropy(cluster, Math.floor(cluster.length / SAMPLE), SAMPLE) < SAMPLE_CUTOFF) return false;
  if (entropy(cluster, 1, cluster.length) < randomEntropy(cluster.length) - MARGIN) return false;
  return repeatedSamples(cluster) <= REPEATS_ALLOWED;
}
