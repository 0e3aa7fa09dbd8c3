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
import type { CodecJob, CodecReply } from './codec-protocol.js';

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

function run(job: CodecJob): CodecReply {
  const codec = codecFor(job);
  const input = new Uint8Array(job.input);
  const outputs: Uint8Array[] = [];
  const errors: Array<string | null> = [];
  for (let i = 0; i < job.bounds.length - 1; i++) {
    const piece = input.subarray(job.bounds[i], job.bounds[i + 1]);
    try {
      outputs.push(job.op === 'compress' ? codec.compress(piece) : codec.decompress(piece, job.clusterSize));
      errors.push(null);
    } catch (error) {
      outputs.push(new Uint8Array(0));
      errors.push((error as Error).message);
    }
  }
  const bounds = [0];
  for (const output of outputs) bounds.push(bounds.at(-1)! + output.length);
  const packed = new Uint8Array(bounds.at(-1)!);
  outputs.forEach((output, i) => packed.set(output, bounds[i]));
  return { id: job.id, input: job.input, output: packed.buffer, bounds, errors };
}

parentPort!.on('message', async (job: CodecJob) => {
  await codecFor(job).ready?.();
  const reply = run(job);
  parentPort!.postMessage(reply, [reply.output, reply.input]);
});
