/**
 * What `info` reports, read from cluster 0 alone (a stream is read no further): the fields
 * qemu-img info prints, under its JSON names where it has them.
 */
import { stat } from 'node:fs/promises';
import type { ImageHead } from '../format/image-head.js';
import { ByteCursor } from '../stages/byte-cursor.js';
import { readHead } from '../stages/qcow2-reader.js';
import { ioError } from './io-error.js';
import { probeStream, type ImageFormat } from './probe.js';
import { readPath } from './descriptor-source.js';
import { formatBytes } from './human-size.js';

export interface ImageInfo {
  filename: string;
  format: ImageFormat;
  'virtual-size': number;
  'actual-size'?: number;
  'cluster-size'?: number;
  'backing-filename'?: string;
  'backing-filename-format'?: string;
  'dirty-flag'?: boolean;
  encrypted?: boolean;
  /** Not in qemu-img info (which lists the snapshots themselves): how many the header counts. */
  'snapshot-count'?: number;
  'format-specific'?: {
    type: 'qcow2';
    data: {
      compat: '0.10' | '1.1';
      'compression-type': 'zlib' | 'zstd';
      'lazy-refcounts'?: boolean;
      'refcount-bits': number;
      corrupt?: boolean;
      'extended-l2'?: boolean;
      bitmaps?: boolean;
      'data-file'?: boolean;
      'unknown-incompatible-features'?: string[];
    };
  };
}

function qcow2Info(filename: string, head: ImageHead): ImageInfo {
  const v3 = head.header.version === 3;
  return {
    filename,
    format: 'qcow2',
    'virtual-size': head.virtualSize,
    'cluster-size': head.clusterSize,
    ...(head.backingFile !== undefined && { 'backing-filename': head.backingFile }),
    ...(head.backingFormat !== undefined && { 'backing-filename-format': head.backingFormat }),
    'dirty-flag': head.dirty,
    ...(head.encryption && { encrypted: true }),
    'snapshot-count': head.header.nbSnapshots,
    'format-specific': {
      type: 'qcow2',
      data: {
        compat: v3 ? '1.1' : '0.10',
        'compression-type': head.compression === 'zstd' ? 'zstd' : 'zlib',
        ...(v3 && { 'lazy-refcounts': head.lazyRefcounts }),
        'refcount-bits': 2 ** head.header.refcountOrder,
        ...(v3 && { corrupt: head.corrupt, 'extended-l2': head.extendedL2 }),
        ...(head.hasBitmaps && { bitmaps: true }),
        ...(head.externalDataFile && { 'data-file': true }),
        ...(head.unknownIncompatibleFeatures.length > 0 && { 'unknown-incompatible-features': head.unknownIncompatibleFeatures }),
      },
    },
  };
}

/** Info about `source`: a path, or a stream with `name` for the report. */
export async function imageInfo(source: string | AsyncIterable<Uint8Array>, name = typeof source === 'string' ? source : '-'): Promise<ImageInfo> {
  const path = typeof source === 'string' ? source : undefined;
  let actualSize: number | undefined;
  let fileSize: number | undefined;
  if (path !== undefined) {
    try {
      const info = await stat(path);
      if (info.isFile()) {
        actualSize = info.blocks * 512;
        fileSize = info.size;
      }
    } catch (error) {
      throw ioError(error, 'open', path);
    }
  }
  const stream = path !== undefined ? readPath(path) : (source as AsyncIterable<Uint8Array>);
  const { format, stream: bytes } = await probeStream(stream);
  const cursor = new ByteCursor(bytes);
  try {
    if (format === 'qcow2') {
      const { head } = await readHead(cursor);
      return { ...qcow2Info(name, head), ...(actualSize !== undefined && { 'actual-size': actualSize }) };
    }
    const size = fileSize ?? (await cursor.skipToEnd());
    return { filename: name, format: 'raw', 'virtual-size': size, ...(actualSize !== undefined && { 'actual-size': actualSize }) };
  } finally {
    await cursor.close();
  }
}

/** The human form, laid out as qemu-img info lays it out. */
export function formatInfo(info: ImageInfo): string {
  const lines = [`image: ${info.filename}`, `file format: ${info.format}`, `virtual size: ${formatBytes(info['virtual-size'])} (${info['virtual-size']} bytes)`];
  if (info['actual-size'] !== undefined) lines.push(`disk size: ${formatBytes(info['actual-size'])}`);
  if (info['cluster-size'] !== undefined) lines.push(`cluster_size: ${info['cluster-size']}`);
  if (info['backing-filename'] !== undefined) lines.push(`backing file: ${info['backing-filename']}`);
  if (info['backing-filename-format'] !== undefined) lines.push(`backing file format: ${info['backing-filename-format']}`);
  if (info.encrypted) lines.push('encrypted: yes');
  if (info['snapshot-count']) lines.push(`snapshots: ${info['snapshot-count']}`);
  const data = info['format-specific']?.data;
  if (data) {
    lines.push('Format specific information:', `    compat: ${data.compat}`, `    compression type: ${data['compression-type']}`);
    if (data['lazy-refcounts'] !== undefined) lines.push(`    lazy refcounts: ${data['lazy-refcounts']}`);
    if (data.bitmaps) lines.push('    bitmaps: present');
    lines.push(`    refcount bits: ${data['refcount-bits']}`);
    if (data.corrupt !== undefined) lines.push(`    corrupt: ${data.corrupt}`);
    if (data['extended-l2'] !== undefined) lines.push(`    extended l2: ${data['extended-l2']}`);
    if (data['data-file']) lines.push('    data file: yes');
    if (data['unknown-incompatible-features']) lines.push(`    unknown incompatible features: ${data['unknown-incompatible-features'].join(', ')}`);
  }
  if (info['dirty-flag']) lines.push('dirty flag: yes');
  return lines.join('\n');
}
