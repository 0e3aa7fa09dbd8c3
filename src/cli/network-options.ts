/** The network options every command that reads (or writes) a location takes. */
import { OptionError } from '../errors.js';
import type { NetworkOptions } from '../node/sources.js';
import { parseSize } from './sizes.js';

export const NETWORK_OPTIONS = {
  timeout: { type: 'string' },
  endpoint: { type: 'string' },
  region: { type: 'string' },
} as const;

export function positiveInteger(text: string, option: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < 1) throw new OptionError(option, `'${text}' is not a positive whole number`);
  return value;
}

function nonNegativeSeconds(text: string, option: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < 0) throw new OptionError(option, `'${text}' is not a number of seconds`);
  return value;
}

/** Network settings from the command line. */
export function networkOptions(values: { timeout?: string; endpoint?: string; region?: string; 'part-size'?: string; 'parts-in-flight'?: string }): NetworkOptions {
  const timeout = values.timeout !== undefined ? nonNegativeSeconds(values.timeout, '--timeout') : undefined;
  // 0 waits for ever; Node's socket timeouts take 0 to mean the same.
  const timeoutMs = timeout === undefined ? undefined : timeout === 0 ? 0 : Math.max(1, Math.round(timeout * 1000));
  if (values.endpoint !== undefined) {
    try {
      new URL(values.endpoint);
    } catch {
      throw new OptionError('--endpoint', `'${values.endpoint}' is not a URL`);
    }
  }
  return {
    ...(timeoutMs !== undefined && { timeoutMs }),
    s3: {
      ...(timeoutMs !== undefined && { timeoutMs }),
      ...(values.endpoint !== undefined && { endpoint: values.endpoint }),
      ...(values.region !== undefined && { region: values.region }),
      ...(values['part-size'] !== undefined && { partSize: parseSize(values['part-size'], '--part-size') }),
      ...(values['parts-in-flight'] !== undefined && { partsInFlight: positiveInteger(values['parts-in-flight'], '--parts-in-flight') }),
    },
  };
}
