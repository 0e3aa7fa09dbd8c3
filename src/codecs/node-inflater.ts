/**
 * One long-lived node:zlib inflate that writes each cluster straight into the caller's
 * buffer. inflateRawSync makes a zlib state and a fresh output chunk for every call and the
 * chunk must then be copied out; on a virtual machine, where fresh memory costs page faults
 * and the heap's growth costs TLB shootdowns across threads, that was about a third of
 * reading a compressed image.
 *
 * node:zlib has no public call for this, so it uses the stream's native handle
 * (`_handle.writeSync`, `_writeState`), as node's own synchronous calls do. Where a Node
 * lacks them, `nodeInflater()` returns undefined and the caller keeps inflateRawSync.
 */
import { constants, createInflateRaw } from 'node:zlib';

interface NativeZlib {
  writeSync(flush: number, input: Uint8Array, inOffset: number, inLength: number, output: Uint8Array, outOffset: number, outLength: number): void;
  reset(): void;
  onerror: (message: string, errno: number) => void;
}

export interface NodeInflater {
  /** Inflates `stream` into `target` until it is full: the bytes written, or an error message. */
  inflate(stream: Uint8Array, target: Uint8Array): number | string;
}

export function nodeInflater(): NodeInflater | undefined {
  const engine = createInflateRaw() as unknown as { _handle?: Partial<NativeZlib>; _writeState?: unknown };
  const handle = engine._handle;
  const state = engine._writeState;
  if (typeof handle?.writeSync !== 'function' || typeof handle.reset !== 'function' || !(state instanceof Uint32Array)) return undefined;
  const native = handle as NativeZlib;
  let failure: string | undefined;
  // The stream's own handler would destroy it; a damaged cluster only fails that cluster.
  native.onerror = (message) => (failure = message);
  return {
    inflate(stream, target) {
      failure = undefined;
      native.reset();
      native.writeSync(constants.Z_SYNC_FLUSH, stream, 0, stream.length, target, 0, target.length);
      return failure ?? target.length - state[0]!;
    },
  };
}
