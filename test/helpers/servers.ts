/**
 * Real servers on loopback for the network tests: a small HTTP image server, and s3rver (an
 * S3-compatible server from npm) behind a proxy that records what the client asked (in the
 * order requests arrive), does what s3rver does not (AbortMultipartUpload, the 5 MiB minimum
 * for every part but the last, the list of unfinished uploads) and can fail a part on purpose.
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import S3rver from 's3rver';

export async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

export async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export interface StoredUpload {
  body: Buffer;
  headers: IncomingMessage['headers'];
}

/**
 * GET /NAME serves `files[NAME]` (with Content-Length); GET /redirect/NAME answers 302 to it;
 * GET /stall/NAME sends half and then nothing; GET /cut/NAME sends half and closes; anything
 * else is 404. PUT /NAME stores the body in `uploads`; PUT /forbidden/... answers 403.
 */
export async function startImageServer(files: Record<string, Uint8Array>, tls?: { key: string; cert: string }): Promise<{ url: string; uploads: Map<string, StoredUpload>; close: () => Promise<void> }> {
  const uploads = new Map<string, StoredUpload>();
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = decodeURIComponent(req.url ?? '/');
    const [, first, ...rest] = path.split('/');
    const name = rest.length > 0 ? rest.join('/') : first!;
    const file = files[name];
    if (req.method === 'PUT') {
      if (first === 'forbidden') {
        res.writeHead(403, 'Forbidden').end('no uploads here');
        req.resume();
        return;
      }
      void body(req).then((bytes) => {
        uploads.set(name, { body: bytes, headers: req.headers });
        res.writeHead(201).end();
      });
      return;
    }
    if (!file) return void res.writeHead(404, 'Not Found').end();
    if (first === 'redirect') return void res.writeHead(302, { location: `/${name}` }).end();
    res.writeHead(200, { 'content-length': file.length, 'content-type': 'application/octet-stream' });
    if (first === 'stall') return void res.write(file.subarray(0, file.length >> 1));
    if (first === 'cut') return void res.write(file.subarray(0, file.length >> 1), () => res.socket?.destroy());
    res.end(file);
  };
  const server = tls ? createHttpsServer(tls, handle) : createServer(handle);
  const port = await listen(server);
  return { url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`, uploads, close: () => closeServer(server) };
}

export interface S3Request {
  method: string;
  path: string;
  query: URLSearchParams;
  bytes: number;
  status: number;
}

export interface S3Store {
  endpoint: string;
  requests: S3Request[];
  /** Multipart uploads begun and neither completed nor aborted. */
  openUploads(): string[];
  /** Every UploadPart for this part number fails with 500 from now on. */
  failPart(partNumber: number): void;
  close(): Promise<void>;
}

const MIN_PART = 5 * 1024 * 1024;

/** s3rver on loopback behind a recording, rule-keeping, fault-injecting proxy; bucket `bucket` exists. */
export async function startS3(): Promise<S3Store> {
  const directory = await mkdtemp(join(tmpdir(), 'qcow2-stream-s3-'));
  const s3rver = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory, configureBuckets: [{ name: 'bucket' }] });
  const { port: backendPort } = await s3rver.run();
  const requests: S3Request[] = [];
  const begun = new Set<string>();
  const ended = new Set<string>();
  const partSizes = new Map<string, Map<number, number>>();
  const failing = new Set<number>();

  const proxy = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://store');
      const query = url.searchParams;
      const record: S3Request = { method: req.method ?? '', path: url.pathname, query, bytes: 0, status: 0 };
      requests.push(record);
      const payload = await body(req);
      record.bytes = payload.length;
      const reply = (status: number, code: string, message: string) => {
        record.status = status;
        res.writeHead(status, { 'content-type': 'application/xml' }).end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`);
      };
      const uploadId = query.get('uploadId');
      const partNumber = Number(query.get('partNumber'));
      if (req.method === 'PUT' && uploadId && failing.has(partNumber)) return reply(500, 'InternalError', `part ${partNumber} fails on purpose`);
      if (req.method === 'DELETE' && uploadId) {
        if (!begun.has(uploadId) || ended.has(uploadId)) return reply(404, 'NoSuchUpload', 'no such upload');
        ended.add(uploadId);
        record.status = 204;
        return void res.writeHead(204).end();
      }
      if (req.method === 'POST' && uploadId) {
        const sizes = [...(partSizes.get(uploadId) ?? new Map<number, number>()).entries()].sort((a, b) => a[0] - b[0]);
        const small = sizes.slice(0, -1).find(([, size]) => size < MIN_PART);
        if (small) return reply(400, 'EntityTooSmall', `part ${small[0]} is ${small[1]} bytes, under the 5 MiB minimum`);
      }
      const forwarded = request({ host: '127.0.0.1', port: backendPort, method: req.method, path: req.url, headers: req.headers }, (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('end', () => {
          const text = Buffer.concat(chunks);
          record.status = answer.statusCode ?? 0;
          if (record.status < 300) {
            if (req.method === 'POST' && query.has('uploads')) begun.add(/<UploadId>([^<]+)<\/UploadId>/.exec(text.toString())?.[1] ?? '?');
            if (req.method === 'PUT' && uploadId) {
              if (!partSizes.has(uploadId)) partSizes.set(uploadId, new Map());
              partSizes.get(uploadId)!.set(partNumber, payload.length);
            }
            if ((req.method === 'POST' || req.method === 'DELETE') && uploadId) ended.add(uploadId);
          }
          res.writeHead(answer.statusCode ?? 500, answer.headers).end(text);
        });
      });
      forwarded.on('error', (error) => reply(502, 'BadGateway', error.message));
      forwarded.end(payload);
    })();
  });
  const port = await listen(proxy);
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    openUploads: () => [...begun].filter((id) => !ended.has(id)),
    failPart: (n) => failing.add(n),
    close: async () => {
      await closeServer(proxy);
      await s3rver.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/** Environment for the CLI to reach the store with s3rver's fixed credentials. */
export function s3Env(store: S3Store): Record<string, string> {
  return { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: store.endpoint, AWS_EC2_METADATA_DISABLED: 'true' };
}
