/**
 * Where an image comes from or goes to, as the command line names it: a path, `-` (stdin or
 * stdout), an `http://` or `https://` URL, `s3://bucket/key`, `tcp://host:port` (connect) or
 * `tcp-listen://[host]:port` (wait for one connection).
 */
import { OptionError } from '../../errors.js';

export type Location =
  | { kind: 'stdio'; name: string }
  | { kind: 'file'; name: string; path: string }
  | { kind: 'http'; name: string; url: URL }
  | { kind: 's3'; name: string; bucket: string; key: string }
  | { kind: 'tcp'; name: string; host: string; port: number }
  | { kind: 'tcp-listen'; name: string; host: string | undefined; port: number };

const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;

function hostAndPort(rest: string, text: string, hostRequired: boolean): { host: string | undefined; port: number } {
  const match = /^(?:\[([0-9a-f:.]+)\]|([^:/[\]]*)):(\d+)\/?$/i.exec(rest);
  if (!match) throw new OptionError('location', `'${text}' is not HOST:PORT (an IPv6 host goes in brackets)`);
  const host = match[1] ?? match[2] ?? '';
  const port = Number(match[3]);
  if (port < 1 || port > 65535) throw new OptionError('location', `'${text}': port ${match[3]} is not 1 to 65535`);
  if (hostRequired && host === '') throw new OptionError('location', `'${text}' names no host`);
  return { host: host === '' ? undefined : host, port };
}

export function parseLocation(text: string): Location {
  if (text === '-') return { kind: 'stdio', name: text };
  const scheme = SCHEME.exec(text)?.[1]?.toLowerCase();
  if (scheme === undefined) return { kind: 'file', name: text, path: text };
  const rest = text.slice(scheme.length + 3);
  switch (scheme) {
    case 'http':
    case 'https': {
      let url: URL;
      try {
        url = new URL(text);
      } catch {
        throw new OptionError('location', `'${text}' is not a valid URL`);
      }
      return { kind: 'http', name: text, url };
    }
    case 's3': {
      const slash = rest.indexOf('/');
      const bucket = slash < 0 ? rest : rest.slice(0, slash);
      const key = slash < 0 ? '' : rest.slice(slash + 1);
      if (bucket === '' || key === '') throw new OptionError('location', `'${text}' is not s3://BUCKET/KEY`);
      return { kind: 's3', name: text, bucket, key };
    }
    case 'tcp': {
      const { host, port } = hostAndPort(rest, text, true);
      return { kind: 'tcp', name: text, host: host!, port };
    }
    case 'tcp-listen':
      return { kind: 'tcp-listen', name: text, ...hostAndPort(rest, text, false) };
    case 'file':
      return { kind: 'file', name: text, path: decodeURIComponent(new URL(text).pathname) };
    default:
      throw new OptionError('location', `'${text}': ${scheme}:// is not supported (http, https, s3, tcp, tcp-listen, file, or a path)`);
  }
}
