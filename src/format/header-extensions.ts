/**
 * Header extensions: after the header, inside cluster 0. Each is type u32, length u32,
 * data, zero padding to a multiple of 8; type 0 ends the list.
 */
import { FormatError, LimitError } from '../errors.js';
import { DEFAULT_LIMITS, type Limits } from '../limits.js';
import {
  AUTOCLEAR_BITMAPS,
  AUTOCLEAR_DATA_FILE_RAW,
  COMPAT_LAZY_REFCOUNTS,
  EXT_BACKING_FORMAT,
  EXT_END,
  EXT_FEATURE_NAME_TABLE,
  FEATURE_AUTOCLEAR,
  FEATURE_COMPATIBLE,
  FEATURE_INCOMPATIBLE,
  FEATURE_NAME_ENTRY_SIZE,
  FEATURE_NAME_MAX,
  INCOMPAT_COMPRESSION,
  INCOMPAT_CORRUPT,
  INCOMPAT_DATA_FILE,
  INCOMPAT_DIRTY,
  INCOMPAT_EXTENDED_L2,
} from './constants.js';
import { roundUp, viewOf } from './uint64.js';

export interface HeaderExtension {
  type: number;
  data: Uint8Array;
}

export interface FeatureName {
  /** 0 incompatible, 1 compatible, 2 autoclear */
  type: number;
  bit: number;
  name: string;
}

const EXTENSION_HEADER_SIZE = 8;

/** The feature name table qemu writes into every version 3 image. */
export const QEMU_FEATURE_NAMES: readonly FeatureName[] = [
  { type: FEATURE_INCOMPATIBLE, bit: INCOMPAT_DIRTY, name: 'dirty bit' },
  { type: FEATURE_INCOMPATIBLE, bit: INCOMPAT_CORRUPT, name: 'corrupt bit' },
  { type: FEATURE_INCOMPATIBLE, bit: INCOMPAT_DATA_FILE, name: 'external data file' },
  { type: FEATURE_INCOMPATIBLE, bit: INCOMPAT_COMPRESSION, name: 'compression type' },
  { type: FEATURE_INCOMPATIBLE, bit: INCOMPAT_EXTENDED_L2, name: 'extended L2 entries' },
  { type: FEATURE_COMPATIBLE, bit: COMPAT_LAZY_REFCOUNTS, name: 'lazy refcounts' },
  { type: FEATURE_AUTOCLEAR, bit: AUTOCLEAR_BITMAPS, name: 'bitmaps' },
  { type: FEATURE_AUTOCLEAR, bit: AUTOCLEAR_DATA_FILE_RAW, name: 'raw external data' },
];

/** Bytes the encoded extensions take, end marker included. */
export function extensionsLength(extensions: readonly HeaderExtension[]): number {
  let length = EXTENSION_HEADER_SIZE;
  for (const extension of extensions) length += EXTENSION_HEADER_SIZE + roundUp(extension.data.length, 8);
  return length;
}

/** Encodes extensions followed by the end marker. */
export function encodeExtensions(extensions: readonly HeaderExtension[]): Uint8Array {
  const bytes = new Uint8Array(extensionsLength(extensions));
  const view = viewOf(bytes);
  let at = 0;
  for (const extension of extensions) {
    view.setUint32(at, extension.type);
    view.setUint32(at + 4, extension.data.length);
    bytes.set(extension.data, at + EXTENSION_HEADER_SIZE);
    at += EXTENSION_HEADER_SIZE + roundUp(extension.data.length, 8);
  }
  view.setUint32(at, EXT_END);
  return bytes;
}

/**
 * Decodes the extensions in `bytes[start, end)`; `end` is where cluster 0 ends, or where the
 * backing file name starts. Stops at the end marker. An extension running past `end` is damage.
 */
export function decodeExtensions(bytes: Uint8Array, start: number, end: number, limits: Limits = DEFAULT_LIMITS): HeaderExtension[] {
  if (end > bytes.length) throw new FormatError('header extension', `needs ${end} bytes of cluster 0, input has ${bytes.length}`);
  const view = viewOf(bytes);
  const extensions: HeaderExtension[] = [];
  let at = start;
  while (at < end) {
    if (end - at < EXTENSION_HEADER_SIZE) throw new FormatError('header extension', 'runs past the end of cluster 0', at);
    const type = view.getUint32(at);
    const length = view.getUint32(at + 4);
    // qemu checks the length before it looks at the type, the end marker's too.
    if (length > end - at - EXTENSION_HEADER_SIZE) {
      throw new FormatError('header extension', `type 0x${type.toString(16).padStart(8, '0')} of ${length} bytes runs past the end of cluster 0`, at);
    }
    if (type === EXT_END) break;
    if (length > limits.maxHeaderExtensionBytes) throw new LimitError('header extension', `type 0x${type.toString(16).padStart(8, '0')} is ${length} bytes, over the ${limits.maxHeaderExtensionBytes}-byte limit`);
    if (extensions.length >= limits.maxHeaderExtensions) throw new LimitError('header extension', `more than ${limits.maxHeaderExtensions} header extensions`);
    extensions.push({ type, data: bytes.subarray(at + EXTENSION_HEADER_SIZE, at + EXTENSION_HEADER_SIZE + length) });
    at += EXTENSION_HEADER_SIZE + roundUp(length, 8);
  }
  return extensions;
}

export function encodeFeatureNameTable(names: readonly FeatureName[]): HeaderExtension {
  const data = new Uint8Array(names.length * FEATURE_NAME_ENTRY_SIZE);
  const encoder = new TextEncoder();
  names.forEach((feature, i) => {
    const at = i * FEATURE_NAME_ENTRY_SIZE;
    data[at] = feature.type;
    data[at + 1] = feature.bit;
    const name = encoder.encode(feature.name);
    if (name.length > FEATURE_NAME_MAX) throw new RangeError(`feature name "${feature.name}" is over ${FEATURE_NAME_MAX} bytes`);
    data.set(name, at + 2);
  });
  return { type: EXT_FEATURE_NAME_TABLE, data };
}

export function decodeFeatureNameTable(data: Uint8Array): FeatureName[] {
  const names: FeatureName[] = [];
  const decoder = new TextDecoder();
  for (let at = 0; at + FEATURE_NAME_ENTRY_SIZE <= data.length; at += FEATURE_NAME_ENTRY_SIZE) {
    const raw = data.subarray(at + 2, at + FEATURE_NAME_ENTRY_SIZE);
    const nul = raw.indexOf(0);
    names.push({ type: data[at]!, bit: data[at + 1]!, name: decoder.decode(nul < 0 ? raw : raw.subarray(0, nul)) });
  }
  return names;
}

export function encodeBackingFormat(format: string): HeaderExtension {
  return { type: EXT_BACKING_FORMAT, data: new TextEncoder().encode(format) };
}

export function decodeText(data: Uint8Array): string {
  return new TextDecoder().decode(data);
}
