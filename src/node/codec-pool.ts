/**
 * Worker threads that compress and inflate clusters in batches, one per core by default.
 * Jobs go to the least busy worker; results come back in the order asked for by the stages
 * (ordered-batches), so output is identical whatever the thread count. Workers are unref'd:
 * a pool nobody closed does not keep the process alive.
 */
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { CodecError } from '../codecs/codec.js';
import type { CompressionAlgorithm } from '../stages/clusters.js';
import type { BatchCompressor } from '../stages/compress.js';
import type { BatchDecompressor } from '../stages/decompress.js';
import { release, sharedBufferPool, type BufferPool } from '../stages/buffer-pool.js';
import { OWNS_ITS_BUFFER, type CodecJob, type CodecName, type CodecReply } from './codec-protocol.js';

export interface CodecPoolOptions {
  /** Threads that compress or inflate. Default: the number of cores. */
  threads?: number;
  /** The deflate implementation for compressing: 'zlib' (node:zlib, default), 'pako', or 'pako-legacy' (qemu's exact bytes). */
  deflate?: Extract<CodecName, 'zlib' | 'pako' | 'pako-legacy'>;
  /** Deflate level 1..9. Default 6, as qemu. */
  level?: number;
  /**
   * Where inflated clusters go: workers fill pool buffers, transferred there and back, and
   * each cluster goes downstream holding its reference (see buffer-pool.ts). Default: the
   * shared pool.
   */
  buffers?: BufferPool;
}

/** Input buffers are at least this big, so most batches fit a spare one. */
const INPUT_BUFFER = 1024 * 1024 + 2 * 1024 * 1024;

interface Slot {
  worker: Worker;
  pending: number;
}

export class CodecPool {
  readonly threads: number;
  private readonly options: Required<Omit<CodecPoolOptions, 'threads' | 'buffers'>>;
  private readonly buffers: BufferPool;
  private slots: Slot[] = [];
  private starting: Promise<void> | undefined;
  private readonly waiting = new Map<number, { resolve: (reply: CodecReply) => void; reject: (error: Error) => void; slot: Slot }>();
  private nextId = 0;
  private closed = false;
  /** Input buffers back from the workers, reused so the main thread does not churn memory. */
  private readonly spareInputs: ArrayBuffer[] = [];

  constructor(options: CodecPoolOptions = {}) {
    this.threads = Math.max(1, options.threads ?? availableParallelism());
    this.options = { deflate: options.deflate ?? 'zlib', level: options.level ?? 6 };
    this.buffers = options.buffers ?? sharedBufferPool();
  }

  /** Starts the workers; node:worker_threads loads only then (it costs startup, and most conversions inflate nothing). */
  private async start(): Promise<void> {
    const { Worker } = await import('node:worker_threads');
    for (let i = 0; i < this.threads; i++) {
      // The worker's own stdio is not piped to ours: Node's pipe() looks at process.stdout, which
      // opens it, and that makes descriptor 1 non-blocking under the stdout sink's thread-pool
      // writes. A worker never writes to stdout (a stray line would land in the image); what it
      // says on stderr is passed on by hand.
      const worker = new Worker(new URL('./codec-worker.js', import.meta.url), { resourceLimits: { maxYoungGenerationSizeMb: 4 }, stdout: true, stderr: true });
      worker.stderr.on('data', (text: Buffer) => process.stderr.write(text));
      worker.unref();
      const slot: Slot = { worker, pending: 0 };
      worker.on('message', (reply: CodecReply) => {
        const waiter = this.waiting.get(reply.id);
        if (!waiter) return;
        this.waiting.delete(reply.id);
        slot.pending--;
        waiter.resolve(reply);
      });
      worker.on('error', (error) => this.failSlot(slot, new CodecError(`a codec worker failed: ${error.message}`, { cause: error })));
      worker.on('exit', (code) => this.failSlot(slot, new CodecError(`a codec worker stopped (exit code ${code})`)));
      this.slots.push(slot);
    }
  }

  private failSlot(slot: Slot, error: Error): void {
    for (const [id, waiter] of this.waiting) {
      if (waiter.slot !== slot) continue;
      this.waiting.delete(id);
      waiter.reject(error);
    }
  }

  /** Runs one batch: every piece through `op` with `codec`. */
  async run(op: CodecJob['op'], codec: CodecName, clusterSize: number, pieces: Uint8Array[]): Promise<{ outputs: Uint8Array[]; errors: Array<string | null> }> {
    if (this.closed) throw new Error('codec pool is closed');
    await (this.starting ??= this.start());
    if (this.closed) throw new Error('codec pool is closed');
    const bounds = [0];
    for (const piece of pieces) bounds.push(bounds.at(-1)! + piece.length);
    const input = new Uint8Array(this.inputBuffer(bounds.at(-1)!), 0, bounds.at(-1)!);
    pieces.forEach((piece, i) => input.set(piece, bounds[i]));
    const slot = this.slots.reduce((best, s) => (s.pending < best.pending ? s : best));
    const id = this.nextId++;
    // A cluster big enough for a buffer of its own is inflated into a pool buffer; small ones come back packed.
    const pooled = op === 'decompress' && clusterSize >= OWNS_ITS_BUFFER;
    const targets = pooled ? pieces.map(() => this.buffers.takeBuffer(clusterSize)) : undefined;
    const job: CodecJob = { id, op, codec, level: this.options.level, clusterSize, input: input.buffer, bounds, ...(targets && { targets }) };
    let reply: CodecReply;
    try {
      reply = await new Promise<CodecReply>((resolve, reject) => {
        this.waiting.set(id, { resolve, reject, slot });
        slot.pending++;
        slot.worker.postMessage(job, [job.input, ...(targets ?? [])]);
      });
    } catch (error) {
      if (targets) this.buffers.forget(targets.length); // gone with the worker
      throw error;
    }
    if (this.spareInputs.length < 2 * this.threads + 2) this.spareInputs.push(reply.input);
    if (!targets) return { outputs: reply.outputs, errors: reply.errors };
    // Targets come back as new objects: adopted, they hold a reference and can come back to the pool.
    const outputs = reply.outputs.map((output, i) => {
      const adopted = this.buffers.adopt(output.buffer as ArrayBuffer, clusterSize);
      if (reply.errors[i] === null) return adopted;
      release(adopted);
      return output.subarray(0, 0);
    });
    return { outputs, errors: reply.errors };
  }

  private inputBuffer(size: number): ArrayBuffer {
    const index = this.spareInputs.findIndex((buffer) => buffer.byteLength >= size);
    if (index >= 0) return this.spareInputs.splice(index, 1)[0]!;
    return new ArrayBuffer(Math.max(size, INPUT_BUFFER));
  }

  compressor(): BatchCompressor {
    return {
      algorithm: 'deflate',
      compress: async (clusters) => {
        const { outputs, errors } = await this.run('compress', this.options.deflate, clusters[0]?.length ?? 0, clusters);
        const failed = errors.find((e) => e !== null);
        if (failed) throw new CodecError(`compression failed: ${failed}`);
        return outputs;
      },
    };
  }

  decompressor(): BatchDecompressor {
    const codecOf = (algorithm: CompressionAlgorithm): CodecName => (algorithm === 'zstd' ? 'zstd' : 'zlib');
    return {
      decompress: async (streams, clusterSize) => {
        const codec = codecOf(streams[0]!.algorithm);
        if (streams.some((s) => codecOf(s.algorithm) !== codec)) throw new Error('a batch mixes compression types');
        const { outputs, errors } = await this.run('decompress', codec, clusterSize, streams.map((s) => s.bytes));
        return outputs.map((output, i) => (errors[i] === null ? output : new Error(errors[i]!)));
      },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    const slots = this.slots;
    this.slots = [];
    for (const slot of slots) slot.worker.removeAllListeners('exit');
    await Promise.all(slots.map((slot) => slot.worker.terminate()));
    for (const [, waiter] of this.waiting) waiter.reject(new Error('codec pool closed'));
    this.waiting.clear();
  }
}
