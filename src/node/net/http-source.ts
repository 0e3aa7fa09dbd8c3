/**
 * An image read with one streaming GET: redirects followed (up to 5), a status other than
 * 200 an error naming the URL and the status, a silent server given up after the timeout,
 * a body shorter than its Content-Length an error rather than a short image. The body comes
 * in Node's own small chunks; they are copied into whole pool buffers (stages/rechunk.ts).
 */
import type { IncomingMessage } from 'node:http';
import { rechunk } from '../../stages/rechunk.js';
import { httpError, responseOf, startRequest, translate, type HttpOptions } from './http-request.js';
import { DEFAULT_TIMEOUT_MS } from './timeouts.js';

const MAX_REDIRECTS = 5;

export interface ByteSource {
  chunks: AsyncIterable<Uint8Array>;
  /** Total bytes, when the other side says so. */
  length?: number;
}

export async function httpSource(url: URL, name: string, options: HttpOptions = {}): Promise<ByteSource> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let current = url;
  for (let redirects = 0; ; redirects++) {
    let silent = false;
    const request = startRequest(current, { method: 'GET', headers: { 'user-agent': 'qcow2-stream', ...options.headers } }, timeoutMs, (r) => {
      silent = true;
      r.destroy();
    });
    request.end();
    let response: IncomingMessage;
    try {
      response = await responseOf(request, name, 'read');
    } catch (error) {
      if (silent) throw httpError(name, 'read', `no response in ${timeoutMs / 1000} s (--timeout)`);
      throw error;
    }
    const status = response.statusCode ?? 0;
    if (status >= 300 && status < 400 && response.headers.location) {
      response.resume();
      if (redirects === MAX_REDIRECTS) throw httpError(name, 'read', `more than ${MAX_REDIRECTS} redirects`);
      current = new URL(response.headers.location, current);
      continue;
    }
    if (status !== 200) {
      response.resume();
      request.destroy();
      throw httpError(name, 'read', `HTTP ${status} ${response.statusMessage ?? ''}`.trim());
    }
    const header = response.headers['content-length'];
    const length = header !== undefined && /^\d+$/.test(header) ? Number(header) : undefined;
    const chunks = async function* (): AsyncGenerator<Uint8Array> {
      let received = 0;
      try {
        for await (const chunk of response) {
          received += (chunk as Buffer).length;
          yield chunk as Buffer;
        }
      } catch (error) {
        if (silent) throw httpError(name, 'read', `no data for ${timeoutMs / 1000} s after ${received} bytes (--timeout)`);
        if (length !== undefined) throw httpError(name, 'read', `the connection closed after ${received} of ${length} bytes`, error);
        throw translate(error, name, 'read');
      } finally {
        request.destroy();
      }
      if (length !== undefined && received !== length) throw httpError(name, 'read', `the connection closed after ${received} of ${length} bytes`);
    };
    return { chunks: rechunk(chunks()), ...(length !== undefined && { length }) };
  }
}
