/**
 * An image written with one streaming PUT. The request starts when the first byte is ready;
 * if the exact length is known by then (the qcow2 writer plans before its first byte), it
 * goes as Content-Length, otherwise the body is chunked. Any status but 2xx is an error
 * naming the URL and the status, and so is a server that stops reading for the timeout.
 * Each chunk's reference is released once the request has written it.
 */
import type { IncomingMessage } from 'node:http';
import { once } from 'node:events';
import { release } from '../../stages/buffer-pool.js';
import { httpError, responseOf, shortBody, startRequest, translate, type HttpOptions } from './http-request.js';
import { DEFAULT_TIMEOUT_MS } from './timeouts.js';

export interface HttpSinkOptions extends HttpOptions {
  /** Asked once the first chunk is ready: the total length, if known. */
  length?: () => number | undefined;
  /** Content-Type; default application/octet-stream. */
  contentType?: string;
}

export async function httpSink(url: URL, name: string, chunks: AsyncIterable<Uint8Array>, options: HttpSinkOptions = {}): Promise<number> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const iterator = chunks[Symbol.asyncIterator]();
  let first = await iterator.next();
  const length = options.length?.();
  let silent = false;
  const request = startRequest(
    url,
    {
      method: 'PUT',
      headers: {
        'user-agent': 'qcow2-stream',
        'content-type': options.contentType ?? 'application/octet-stream',
        ...(length !== undefined ? { 'content-length': String(length) } : { 'transfer-encoding': 'chunked' }),
        ...options.headers,
      },
    },
    timeoutMs,
    (r) => {
      silent = true;
      r.destroy();
    },
  );
  const response = responseOf(request, name, 'write');
  let early: IncomingMessage | undefined;
  void response.then(
    (r) => (early = r),
    () => {},
  );
  let sent = 0;
  try {
    for (; !first.done; first = await iterator.next()) {
      // A server that answers before the body is complete has refused it.
      if (early || request.destroyed) break;
      const chunk = first.value;
      sent += chunk.length;
      if (!request.write(chunk, () => release(chunk))) {
        await Promise.race([once(request, 'drain'), response.then(() => undefined)]);
      }
    }
    if (!early && !request.destroyed) request.end();
    const answer = await response;
    const status = answer.statusCode ?? 0;
    if (status < 200 || status >= 300) {
      const body = (await shortBody(answer)).replace(/\s+/g, ' ').trim();
      throw httpError(name, 'write', `HTTP ${status} ${answer.statusMessage ?? ''}${body ? `: ${body.slice(0, 200)}` : ''}`.trim());
    }
    answer.resume();
    if (!first.done) throw httpError(name, 'write', `the server answered ${status} before the body was complete`);
    return sent;
  } catch (error) {
    request.destroy();
    if (silent) throw httpError(name, 'write', `the server took nothing for ${timeoutMs / 1000} s after ${sent} bytes (--timeout)`);
    throw translate(error, name, 'write');
  } finally {
    await iterator.return?.();
  }
}
