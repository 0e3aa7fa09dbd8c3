/** One HTTP(S) request with a timeout on silence, and errors that name the URL. */
import { request as httpRequest, type IncomingMessage, type ClientRequest, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { IoError } from '../../errors.js';
import { ioError } from '../io-error.js';

export interface HttpOptions {
  /** Milliseconds without a byte sent or received before the request fails; default 30 s. */
  timeoutMs?: number;
  /** Extra request headers. */
  headers?: Record<string, string>;
}

export function httpError(name: string, action: string, reason: string, cause?: unknown): IoError {
  return new IoError(`cannot ${action} '${name}': ${reason}`, { path: name, ...(cause !== undefined && { cause }) });
}

/** Starts a request; `onSilence` fires when the socket has been idle for the timeout. */
export function startRequest(url: URL, options: RequestOptions, timeoutMs: number, onSilence: (request: ClientRequest) => void): ClientRequest {
  const make = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const request = make(url, options);
  request.setTimeout(timeoutMs, () => onSilence(request));
  return request;
}

/** Waits for the response head (or the request's failure). */
export function responseOf(request: ClientRequest, name: string, action: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    request.once('response', resolve);
    request.once('error', (error) => reject(translate(error, name, action)));
  });
}

/** A socket error as one line naming the URL; our own errors pass through. */
export function translate(error: unknown, name: string, action: string): Error {
  if (error instanceof IoError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ECONNREFUSED') return httpError(name, action, 'connection refused (ECONNREFUSED)', error);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return httpError(name, action, `host not found (${code})`, error);
  if (code === 'ECONNRESET' || (error as Error).message === 'aborted') return httpError(name, action, 'the connection was reset (ECONNRESET)', error);
  return ioError(error, action, name);
}

/** Reads a short error body (for the message), at most 4 KiB. */
export async function shortBody(response: IncomingMessage): Promise<string> {
  let text = '';
  try {
    for await (const chunk of response) {
      if (text.length < 4096) text += (chunk as Buffer).toString('utf8');
    }
  } catch {
    // The status says enough.
  }
  return text.slice(0, 4096);
}
