/**
 * Raw TCP, no framing: `tcp://host:port` connects, `tcp-listen://[host]:port` waits for one
 * connection (then stops listening). The image is the byte stream until the sender closes
 * its side; the kernel still delivers what a sink has written after it closes.
 *
 * A source reads into pool buffers through libuv (net's `onread`, see descriptor-source.ts),
 * not into a fresh buffer per read; a sink releases each chunk once the socket has written it.
 */
import { connect, createServer, Socket, type OnReadOpts, type SocketConstructorOpts } from 'node:net';
import { once } from 'node:events';
import { IoError } from '../../errors.js';
import { PooledReads } from '../descriptor-source.js';
import { ioError } from '../io-error.js';
import { DEFAULT_TIMEOUT_MS } from './timeouts.js';
import { writeToStream } from '../stream-sink.js';
import type { Location } from './location.js';

type TcpLocation = Extract<Location, { kind: 'tcp' | 'tcp-listen' }>;

export interface TcpOptions {
  /**
   * Milliseconds to wait for the connection, and then for the next byte either way, before
   * giving up; 0 for no limit. Default 30 s, except that a listener waits for its connection
   * for as long as it takes.
   */
  connectTimeoutMs?: number;
  /** Called when listening, with the port (useful with port 0). */
  onListening?: (port: number) => void;
}

function tcpError(location: TcpLocation, action: string, error: unknown): Error {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ECONNREFUSED') return new IoError(`cannot ${action} '${location.name}': connection refused (ECONNREFUSED)`, { path: location.name, syscallCode: code });
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new IoError(`cannot ${action} '${location.name}': host not found (${code})`, { path: location.name, syscallCode: code });
  if (code === 'EADDRINUSE') return new IoError(`cannot ${action} '${location.name}': the port is in use (EADDRINUSE)`, { path: location.name, syscallCode: code });
  return ioError(error, action, location.name);
}

/**
 * The connected socket: dialled, or the first one accepted. With `onread`, reads go into the
 * buffers it gives (an accepted socket is moved onto a Socket made with it: Node's server
 * cannot pass `onread` on, but the handle it accepted can change hands before reading starts).
 */
export async function openTcp(location: TcpLocation, action: 'read' | 'write', options: TcpOptions = {}, onread?: OnReadOpts): Promise<Socket> {
  const socket = await connected(location, action, options.connectTimeoutMs ?? (location.kind === 'tcp' ? DEFAULT_TIMEOUT_MS : 0), options, onread);
  const idleMs = options.connectTimeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (idleMs > 0) socket.setTimeout(idleMs, () => socket.destroy(new IoError(`cannot ${action} '${location.name}': nothing ${action === 'read' ? 'came' : 'was taken'} for ${idleMs / 1000} s (--timeout)`)));
  return socket;
}

/** The paused socket a server accepted, its handle moved to a Socket that reads through `onread`. */
function withOnread(accepted: Socket, onread: OnReadOpts): Socket {
  const internal = accepted as unknown as { _handle: unknown };
  if (typeof internal._handle !== 'object' || internal._handle === null) return accepted;
  const handle = internal._handle;
  internal._handle = null; // the accepted Socket lets go without closing it
  accepted.destroy();
  return new Socket({ handle, readable: true, writable: true, onread } as SocketConstructorOpts);
}

async function connected(location: TcpLocation, action: 'read' | 'write', timeoutMs: number, options: TcpOptions, onread: OnReadOpts | undefined): Promise<Socket> {
  if (location.kind === 'tcp') {
    const socket = connect({ host: location.host, port: location.port, ...(onread && { onread }) });
    const timer = timeoutMs > 0 ? setTimeout(() => socket.destroy(new IoError(`cannot ${action} '${location.name}': no connection in ${timeoutMs / 1000} s (--timeout)`)), timeoutMs) : undefined;
    try {
      await once(socket, 'connect');
      return socket;
    } catch (error) {
      throw tcpError(location, action, error);
    } finally {
      clearTimeout(timer);
    }
  }
  const server = createServer({ pauseOnConnect: true });
  try {
    server.listen({ port: location.port, ...(location.host !== undefined && { host: location.host }) });
    await once(server, 'listening');
    const address = server.address();
    options.onListening?.(typeof address === 'object' && address ? address.port : location.port);
    const timer = timeoutMs > 0 ? setTimeout(() => server.emit('error', new IoError(`cannot ${action} '${location.name}': nobody connected in ${timeoutMs / 1000} s (--timeout)`)), timeoutMs) : undefined;
    try {
      const [socket] = (await once(server, 'connection')) as [Socket];
      return onread ? withOnread(socket, onread) : socket;
    } finally {
      clearTimeout(timer);
    }
  } catch (error) {
    throw error instanceof IoError ? error : tcpError(location, action, error);
  } finally {
    server.close();
  }
}

/** The bytes the peer sends, in pool buffers that each hold their reference. */
export async function* tcpSource(location: TcpLocation, options: TcpOptions = {}): AsyncGenerator<Uint8Array> {
  const reads = new PooledReads();
  const socket = await openTcp(location, 'read', options, reads.readOptions());
  try {
    yield* reads.chunks(socket, location.name);
  } catch (error) {
    throw tcpError(location, 'read', error);
  }
}

export async function tcpSink(location: TcpLocation, chunks: AsyncIterable<Uint8Array>, options: TcpOptions = {}): Promise<number> {
  const socket = await openTcp(location, 'write', options);
  try {
    return await writeToStream(chunks, socket, location.name, { end: true });
  } catch (error) {
    throw tcpError(location, 'write', error);
  } finally {
    socket.destroy();
  }
}
