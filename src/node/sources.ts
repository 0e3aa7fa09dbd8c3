/**
 * Opens where an image comes from: a path stays a path (read with random access or twice, as
 * the reader chooses), everything else becomes a byte stream.
 */
import type { ByteSource } from './net/http-source.js';
import type { Location } from './net/location.js';
import type { S3Options } from './net/s3-client.js';
import type { TcpOptions } from './net/tcp.js';
import { stdinAsPath, stdinChunks } from './stdio.js';

export interface NetworkOptions {
  /** Milliseconds of silence before a network transfer (or a TCP connection) is given up; default 30 s. */
  timeoutMs?: number;
  s3?: S3Options;
  tcp?: TcpOptions;
}

/** The network modules load only for a location that needs them (they cost startup time). */
export async function openByteSource(location: Location, options: NetworkOptions = {}): Promise<string | ByteSource> {
  switch (location.kind) {
    case 'file':
      return location.path;
    case 'stdio':
      return (await stdinAsPath()) ?? { chunks: await stdinChunks() };
    case 'http':
      return (await import('./net/http-source.js')).httpSource(location.url, location.name, { ...(options.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }) });
    case 's3':
      return (await import('./net/s3-source.js')).s3Source(location.bucket, location.key, options.s3, location.name);
    case 'tcp':
    case 'tcp-listen':
      return { chunks: (await import('./net/tcp.js')).tcpSource(location, { ...(options.timeoutMs !== undefined && { connectTimeoutMs: options.timeoutMs }), ...options.tcp }) };
  }
}
