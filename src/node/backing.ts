/**
 * Following backing files: the image a backing file name points at is opened as raw or
 * qcow2 (by its backing format extension, else by its magic), and its own backing file in
 * turn, up to a depth limit. A relative name is resolved against the directory of the image
 * that names it, as qemu does; the first one can be given explicitly (-B).
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import { LimitError, UnsupportedError } from '../errors.js';
import { resolveLimits, type Limits } from '../limits.js';
import type { Codecs } from '../stages/decompress.js';
import type { BackingOpener, GuestImage } from '../stages/guest-image.js';
import { probeFormat } from './probe.js';
import { Qcow2File } from './qcow2-file.js';
import { RawFileImage } from './raw-file-image.js';

export interface BackingOptions {
  /** The path of the first backing image, instead of the name the image gives (-B). */
  path?: string;
  /** Where relative names of the first backing file are resolved: the image's directory. */
  baseDir: string;
  /** Default: limits.maxBackingDepth. */
  maxDepth?: number;
  /** Caps for every image of the chain (see limits.ts). */
  limits?: Partial<Limits>;
  codecs?: Codecs;
  onWarning?: (message: string) => void;
}

export function backingOpener(options: BackingOptions): BackingOpener {
  const maxDepth = options.maxDepth ?? resolveLimits(options.limits).maxBackingDepth;
  const openAt = (baseDir: string, override: string | undefined): BackingOpener => async (name, format, depth) => {
    if (depth > maxDepth) throw new LimitError('backing chain depth', `the backing chain is deeper than ${maxDepth} images (at '${name}')`);
    if (format !== undefined && format !== 'raw' && format !== 'qcow2') {
      throw new UnsupportedError('backing format', `backing file '${name}' is in format '${format}'; only raw and qcow2 backing files are supported`);
    }
    const path = override ?? (isAbsolute(name) ? name : resolve(baseDir, name));
    const kind = format ?? (await probeFormat(path));
    if (kind === 'raw') return RawFileImage.open(path);
    const image: GuestImage = await Qcow2File.open(path, {
      openBacking: (childName, childFormat, childDepth) => openAt(dirname(path), undefined)(childName, childFormat, childDepth + depth),
      ...(options.codecs && { codecs: options.codecs }),
      ...(options.onWarning && { onWarning: options.onWarning }),
      ...(options.limits && { limits: options.limits }),
    });
    return image;
  };
  return openAt(options.baseDir, options.path);
}
