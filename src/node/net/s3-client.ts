/**
 * The S3 client (AWS SDK for JavaScript v3), loaded only when an s3:// location is used.
 * Region, credentials and endpoint come from the usual AWS environment (AWS_REGION,
 * AWS_ACCESS_KEY_ID, AWS_PROFILE, AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, ...) or options.
 * With an endpoint given, addressing is path-style, as stores on a bare address need.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { IoError, UnsupportedError } from '../../errors.js';
import { DEFAULT_TIMEOUT_MS } from './timeouts.js';

export interface S3Options {
  /** An S3-compatible store's address, e.g. http://127.0.0.1:9000. */
  endpoint?: string;
  /** Default: AWS_REGION, AWS_DEFAULT_REGION, the profile's region, else us-east-1. */
  region?: string;
  /** Parts uploaded at once (default 4); memory is about (this + 1) parts. */
  partsInFlight?: number;
  /** Size of the first parts (default 8 MiB; at least 5 MiB); later ones grow, see s3-multipart.ts. */
  partSize?: number;
  /**
   * Milliseconds a request may go without a byte either way (connecting included) before it
   * fails; the SDK then retries it as it does any timeout. Default 30 s, as for HTTP; 0 waits for ever.
   */
  timeoutMs?: number;
  /** A client made by the caller; the options above are then ignored. */
  client?: S3Client;
}

export type S3Sdk = typeof import('@aws-sdk/client-s3');

let sdk: Promise<S3Sdk> | undefined;

export function loadS3Sdk(): Promise<S3Sdk> {
  // We state our Node support ourselves; the SDK's notice about future versions would only
  // clutter a one-line-error command line.
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
  // An optional peer of the library (22 MB that most users never need); the command line
  // carries its own copy, bundled (scripts/bundle-cli.mjs).
  sdk ??= import('@aws-sdk/client-s3').then(
    // The command line's bundled copy is CommonJS that Node cannot read named exports from: they are its default.
    (module) => ('S3Client' in module ? module : (module as unknown as { default: S3Sdk }).default),
    (error: NodeJS.ErrnoException) => {
      sdk = undefined;
      if (error.code !== 'ERR_MODULE_NOT_FOUND' && error.code !== 'MODULE_NOT_FOUND') throw error;
      throw new UnsupportedError('S3', 's3:// locations need the package @aws-sdk/client-s3 beside qcow2-stream (npm install @aws-sdk/client-s3)');
    },
  );
  return sdk;
}

export async function s3Client(options: S3Options): Promise<{ client: S3Client; sdk: S3Sdk; owned: boolean }> {
  const loaded = await loadS3Sdk();
  if (options.client) return { client: options.client, sdk: loaded, owned: false };
  const env = process.env;
  const endpoint = options.endpoint ?? env['AWS_ENDPOINT_URL_S3'] ?? env['AWS_ENDPOINT_URL'];
  const region = options.region ?? env['AWS_REGION'] ?? env['AWS_DEFAULT_REGION'];
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const common = {
    ...(endpoint !== undefined && { endpoint, forcePathStyle: true }),
    // Silence, not duration: socketTimeout is the idle time, as --timeout is for HTTP.
    ...(timeoutMs > 0 && { requestHandler: { connectionTimeout: timeoutMs, socketTimeout: timeoutMs } }),
    // Checksums only where S3 requires them: many S3-compatible stores reject the trailing
    // checksums newer SDKs add by default.
    requestChecksumCalculation: 'WHEN_REQUIRED' as const,
    responseChecksumValidation: 'WHEN_REQUIRED' as const,
  };
  let client = new loaded.S3Client({ ...common, ...(region !== undefined && { region }) });
  if (region === undefined) {
    try {
      await client.config.region();
    } catch {
      client.destroy();
      client = new loaded.S3Client({ ...common, region: 'us-east-1' });
    }
  }
  return { client, sdk: loaded, owned: true };
}

/** An SDK failure as one line naming the object: the S3 error code and message, and the HTTP status. */
export function s3Error(error: unknown, action: string, name: string): Error {
  if (error instanceof IoError) return error;
  const e = error as { name?: string; message?: string; Code?: string; $metadata?: { httpStatusCode?: number }; code?: string };
  const status = e.$metadata?.httpStatusCode;
  if (e.code === 'ECONNREFUSED') return new IoError(`cannot ${action} '${name}': connection refused (ECONNREFUSED)`, { path: name, syscallCode: e.code, cause: error });
  if (e.name === 'TimeoutError') return new IoError(`cannot ${action} '${name}': the store was silent for longer than the timeout (--timeout)`, { path: name, cause: error });
  const code = e.Code ?? e.name ?? 'Error';
  const message = (e.message ?? '').replace(/\s+/g, ' ').trim();
  const text = message && message !== code && message !== 'UnknownError' ? `${code}: ${message}` : code;
  return new IoError(`cannot ${action} '${name}': ${text}${status ? ` (HTTP ${status})` : ''}`, { path: name, cause: error });
}
