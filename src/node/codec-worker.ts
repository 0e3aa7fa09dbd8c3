/**
 * A worker thread that compresses or inflates batches of clusters with synchronous codec
 * calls: measured here, synchronous calls on worker threads scale with cores, while
 * node:zlib's asynchronous calls on the libuv pool do not. Input and output travel as one
 * transferred buffer each way, and the input buffer goes back to be filled again.
 */
import { parentPort } from 'node:worker_threads';
import type { ClusterCodec } from '../codecs/codec.js';
import { nodeDeflate } from '../codecs/deflate-node.js';
import { pakoDeflate } from '../codecs/deflate-pako.js';
import { zstdCodec } from '../codecs/zstd.js';
import { OWNS_ITS_BUFFER, type CodecJob, type CodecReply } from './codec-protocol.js';

const codecs = new Map<string, ClusterCodec>();

function codecFor(job: CodecJob): ClusterCodec {
  const key = `${job.codec}:${job.level}`;
  let codec = codecs.get(key);
  if (!codec) {
    codec = job.codec === 'zstd' ? zstdCodec() : job.codec === 'pako' || job.codec === 'pako-legacy' ? pakoDeflate(job.level, job.codec === 'pako-legacy') : nodeDeflate(job.level);
    codecs.set(key, codec);
  }
  return codec;
}

/**
 * The results as they travel back. A whole inflated cluster has a buffer of its own, which is
 * transferred as it is: copying 64 KiB clusters into one reply buffer cost about a fifth of
 * the inflate time. Shorter results (compressed streams, small clusters) are packed into one.
 */
function replyOutputs(outputs: Uint8Array[]): { outputs: Uint8Array[]; transfer: ArrayBuffer[] } {
  if (outputs.every((output) => output.length === 0 || output.length >= OWNS_ITS_BUFFER)) {
    return { outputs, transfer: [...new Set(outputs.map((output) => output.buffer as ArrayBuffer))] };
  }
  const packed = Buffer.allocUnsafeSlow(outputs.reduce((sum, output) => sum + output.length, 0));
  let at = 0;
  const views = outputs.map((output) => {
    packed.set(output, at);
    at += output.length;
    return packed.subarray(at - output.length, at);
  });
  return { outputs: views, transfer: [packed.buffer as ArrayBuffer] };
}

function placed(result: Uint8Array, target: ArrayBuffer): Uint8Array {
  const view = new Uint8Array(target, 0, result.length);
  view.set(result);
  return view;
}

function run(job: CodecJob): { reply: CodecReply; transfer: ArrayBuffer[] } {
  const codec = codecFor(job);
  const input = new Uint8Array(job.input);
  const results: Uint8Array[] = [];
  const errors: Array<string | null> = [];
  for (let i = 0; i < job.bounds.length - 1; i++) {
    const piece = input.subarray(job.bounds[i], job.bounds[i + 1]);
    const target = job.targets?.[i];
    try {
      if (target && job.op === 'decompress' && codec.decompressInto) {
        const view = new Uint8Array(target, 0, job.clusterSize);
        codec.decompressInto(piece, view);
        results.push(view);
      } else {
        const result = job.op === 'compress' ? codec.compress(piece) : codec.decompress(piece, job.clusterSize);
        // Into the caller's buffer: zlib's own output chunk is freed here, at once, and reused.
        results.push(target ? placed(result, target) : result);
      }
      errors.push(null);
    } catch (error) {
      results.push(target ? new Uint8Array(target, 0, 0) : new Uint8Array(0));
      errors.push((error as Error).message);
    }
  }
  const { outputs, transfer } = job.targets ? { outputs: results, transfer: job.targets } : replyOutputs(results);
  return { reply: { id: job.id, input: job.input, outputs, errors }, transfer: [job.input, ...transfer] };
}

parentPort!.on('message', async (job: CodecJob) => {
  await codecFor(job).ready?.();
  const { reply, transfer } = run(job);
  parentPort!.postMessage(reply, transfer);
});
