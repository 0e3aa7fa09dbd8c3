/**
 * A qcow2 input as a cluster stream: a regular file through random access (no spool, any
 * layout), anything else (a pipe, a socket, any async iterable) through the streaming
 * reader, with a temp-file store for bytes that come before they can be used.
 */
import { dirname } from 'node:path';
import type { ImageHead } from '../format/image-head.js';
import { resolveLimits, type Limits } from '../limits.js';
import type { ClusterRecord } from '../stages/clusters.js';
import type { Codecs } from '../stages/decompress.js';
import type { BackingOpener } from '../stages/guest-image.js';
import { readQcow2 } from '../stages/qcow2-reader.js';
import { backingOpener } from './backing.js';
import type { BufferPool } from '../stages/buffer-pool.js';
import { Qcow2File } from './qcow2-file.js';
import { readPath } from './descriptor-source.js';
import { isRegularFile } from './file-kind.js';
import { tempFileKeyedStore } from './temp-file-keyed-store.js';
import type { TempFileSpoolOptions } from './temp-file-spool.js';

export interface Qcow2SourceOptions extends TempFileSpoolOptions {
  /** For a regular file: random access (default), or the forward-only reader as for a pipe. */
  randomAccess?: boolean;
  /** The backing image's path (-B), or an opener; without either an image with a backing file is refused. */
  backing?: string | BackingOpener;
  onWarning?: (message: string) => void;
  onHead?: (head: ImageHead) => void;
  codecs?: Codecs;
  /** Caps on what the image may ask for; spoolMemory and spoolDisk size the store (see limits.ts). */
  limits?: Partial<Limits>;
  /** For a regular file: read buffers the sink gives back (see Qcow2FileOptions). */
  pool?: BufferPool;
}

function openerFor(options: Qcow2SourceOptions, imagePath: string | undefined): BackingOpener | undefined {
  if (options.backing === undefined) return undefined;
  if (typeof options.backing === 'function') return options.backing;
  return backingOpener({
    path: options.backing,
    baseDir: imagePath ? dirname(imagePath) : process.cwd(),
    ...(options.codecs && { codecs: options.codecs }),
    ...(options.onWarning && { onWarning: options.onWarning }),
    ...(options.limits && { limits: options.limits }),
  });
}

export async function* qcow2Clusters(source: string | AsyncIterable<Uint8Array>, options: Qcow2SourceOptions = {}): AsyncGenerator<ClusterRecord> {
  const path = typeof source === 'string' ? source : undefined;
  const openBacking = openerFor(options, path);
  if (path !== undefined && (options.randomAccess ?? true) && (await isRegularFile(path))) {
    const image = await Qcow2File.open(path, {
      ...(openBacking && { openBacking }),
      ...(options.onWarning && { onWarning: options.onWarning }),
      ...(options.onHead && { onHead: options.onHead }),
      ...(options.codecs && { codecs: options.codecs }),
      ...(options.limits && { limits: options.limits }),
      ...(options.pool && { pool: options.pool }),
    });
    try {
      yield* image.clusters();
    } finally {
      await image.close();
    }
    return;
  }
  const bytes = path !== undefined ? readPath(path, { ...(options.pool && { pool: options.pool }) }) : (source as AsyncIterable<Uint8Array>);
  const limits = resolveLimits(options.limits);
  yield* readQcow2({
    store: tempFileKeyedStore({ memoryLimit: options.memoryLimit ?? limits.spoolMemory, diskLimit: options.diskLimit ?? limits.spoolDisk, ...(options.tempDir && { tempDir: options.tempDir }), ...(options.pool && { pool: options.pool }) }),
    ...(options.pool && { pool: options.pool }),
    ...(options.limits && { limits: options.limits }),
    ...(openBacking && { openBacking }),
    ...(options.onWarning && { onWarning: options.onWarning }),
    ...(options.onHead && { onHead: options.onHead }),
  })(bytes);
}
