/** Sizes as qemu-img spells them: bytes, or a number with a k, M, G, T, P or E suffix (powers of 1024). */
import { OptionError } from '../errors.js';

const SUFFIX: Record<string, number> = { '': 1, b: 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50, e: 2 ** 60 };

export function parseSize(text: string, option: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([bkmgtpe]?)(?:i?b)?$/i.exec(text.trim());
  if (!match) throw new OptionError(option, `'${text}' is not a size (e.g. 65536, 64k, 10G)`);
  const value = Number(match[1]) * SUFFIX[match[2]!.toLowerCase()]!;
  if (!Number.isSafeInteger(value)) throw new OptionError(option, `'${text}' is not a whole number of bytes below 2^53`);
  return value;
}
