/** Opening an image file for reading, and reading its first cluster and header. */
import { open, type FileHandle } from 'node:fs/promises';
import { parseImageHead, type ImageHead } from '../format/image-head.js';
import type { Limits } from '../limits.js';
import { ioError } from './io-error.js';
import { readFully } from './positional-io.js';

/** Opens `path` read-only; a failure becomes an IoError naming the path. */
export async function openForReading(path: string): Promise<FileHandle> {
  try {
    return await open(path, 'r');
  } catch (error) {
    throw ioError(error, 'open', path);
  }
}

/**
 * Reads cluster 0 (the header and its extensions live there) and parses it. The cluster size
 * comes from the first sector; an out-of-range cluster_bits reads one sector, and the parser
 * then names the bad field.
 */
export async function readImageHead(file: FileHandle, fileSize: number, limits: Limits): Promise<{ cluster0: Buffer; head: ImageHead }> {
  const probe = Buffer.alloc(Math.min(512, fileSize));
  await readFully(file.fd, probe, probe.length, 0);
  const clusterBits = probe.length >= 24 ? probe.readUInt32BE(20) : 0;
  const cluster0 = Buffer.alloc(Math.min(clusterBits >= 9 && clusterBits <= 21 ? 2 ** clusterBits : 512, fileSize));
  await readFully(file.fd, cluster0, cluster0.length, 0);
  return { cluster0, head: parseImageHead(cluster0, limits) };
}
