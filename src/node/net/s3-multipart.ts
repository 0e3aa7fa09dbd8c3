/**
 * A multipart upload whose parts may go up in any order, a few at a time. S3's rules: parts
 * are numbered 1 to 10,000, each but the last at least 5 MiB and at most 5 GiB, and the
 * object is the parts in number order. Anything that fails aborts the upload, so no
 * orphaned parts are left to be billed.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { LimitError } from '../../errors.js';
import { registerCleanup } from '../cleanups.js';
import { s3Error, type S3Sdk } from './s3-client.js';

export const MIN_PART_SIZE = 5 * 1024 * 1024;
export const MAX_PART_SIZE = 5 * 1024 * 1024 * 1024;
export const MAX_PARTS = 10_000;
/** S3's largest object. */
export const MAX_OBJECT_SIZE = 5 * 1024 ** 4;
export const DEFAULT_PART_SIZE = 8 * 1024 * 1024;
export const DEFAULT_PARTS_IN_FLIGHT = 4;
/** Parts of one size before the size doubles. */
const PARTS_PER_SIZE = 1000;
/** Parts a stream of data may take: a head-last upload keeps part 1 for the head. */
const DATA_PARTS = MAX_PARTS - 1;
/** Where the last run of one size starts: parts 9,000 to 9,998. */
const LAST_RUN = Math.floor((DATA_PARTS - 1) / PARTS_PER_SIZE) * PARTS_PER_SIZE;
/**
 * The least size of the last run's parts. Doubling alone from 5 MiB gives 2.5 GiB parts there
 * and 4.9 TiB in all; this is what 5 MiB parts doubling up to part 9,000 leave for the last
 * run to carry (about 2.63 GiB), so any first size from 5 MiB reaches 5 TiB.
 */
const LAST_RUN_MIN = Math.ceil((MAX_OBJECT_SIZE - MIN_PART_SIZE * PARTS_PER_SIZE * (2 ** (LAST_RUN / PARTS_PER_SIZE) - 1)) / (DATA_PARTS - LAST_RUN));

/**
 * The size of the `n`th part of a stream of unknown length (0-based): `initial` for the
 * first thousand, then doubling every thousand, at most 5 GiB, and at least LAST_RUN_MIN
 * from part 9,000 (which only first sizes under about 5.26 MiB need). From 8 MiB that
 * reaches S3's 5 TiB object limit within 9,300 parts, from 5 MiB within 9,999, while an
 * image of D bytes uses parts of at most max(8 MiB, about D/500).
 */
export function partSizeFor(n: number, initial = DEFAULT_PART_SIZE): number {
  const doubled = initial * 2 ** Math.floor(n / PARTS_PER_SIZE);
  return Math.min(MAX_PART_SIZE, n >= LAST_RUN ? Math.max(doubled, LAST_RUN_MIN) : doubled);
}

export interface S3Object {
  client: S3Client;
  sdk: S3Sdk;
  bucket: string;
  key: string;
  /** s3://bucket/key, for messages. */
  name: string;
}

export class MultipartUpload {
  private readonly parts: Array<{ PartNumber: number; ETag: string }> = [];
  private readonly running = new Set<Promise<void>>();
  private failure: Error | undefined;
  private finished = false;
  /** An interrupted process aborts the upload on its way out. */
  private readonly unregister: () => void;

  private constructor(
    private readonly target: S3Object,
    private readonly uploadId: string,
    private readonly inFlight: number,
  ) {
    this.unregister = registerCleanup(() => this.abort());
  }

  static async start(target: S3Object, inFlight = DEFAULT_PARTS_IN_FLIGHT, contentType = 'application/octet-stream'): Promise<MultipartUpload> {
    try {
      const { UploadId } = await target.client.send(new target.sdk.CreateMultipartUploadCommand({ Bucket: target.bucket, Key: target.key, ContentType: contentType }));
      if (!UploadId) throw new Error('the store returned no upload id');
      return new MultipartUpload(target, UploadId, Math.max(1, inFlight));
    } catch (error) {
      throw s3Error(error, 'write', target.name);
    }
  }

  /**
   * Starts uploading part `partNumber` once fewer than `inFlight` parts are on their way, and
   * returns then (not when it is done). `body` is the bytes, or a maker of a stream of
   * `length` bytes. `onDone` runs when the part is stored (to reuse its buffer).
   */
  async upload(partNumber: number, body: Uint8Array | (() => Iterable<Uint8Array>), length: number, onDone?: () => void): Promise<void> {
    if (partNumber < 1 || partNumber > MAX_PARTS) throw new LimitError('S3 parts', `part ${partNumber} is past S3's ${MAX_PARTS} parts`);
    if (length > MAX_PART_SIZE) throw new LimitError('S3 part size', `a ${length}-byte part is over S3's 5 GiB`);
    while (this.running.size >= this.inFlight) await Promise.race(this.running);
    if (this.failure) throw this.failure;
    const { client, sdk, bucket, key } = this.target;
    const send = async () => {
      try {
        const { ETag } = await client.send(
          new sdk.UploadPartCommand({
            Bucket: bucket,
            Key: key,
            UploadId: this.uploadId,
            PartNumber: partNumber,
            ContentLength: length,
            Body: body instanceof Uint8Array ? body : Readable.from(body(), { objectMode: false }),
          }),
        );
        if (!ETag) throw new Error(`the store returned no ETag for part ${partNumber}`);
        this.parts.push({ PartNumber: partNumber, ETag });
        onDone?.();
      } catch (error) {
        this.failure ??= s3Error(error, 'write', this.target.name);
      }
    };
    const running: Promise<void> = send().finally(() => this.running.delete(running));
    this.running.add(running);
  }

  /** Waits for every part, then asks the store to join them. */
  async complete(): Promise<void> {
    await Promise.all(this.running);
    if (this.failure) throw this.failure;
    const { client, sdk, bucket, key } = this.target;
    try {
      await client.send(
        new sdk.CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          UploadId: this.uploadId,
          MultipartUpload: { Parts: [...this.parts].sort((a, b) => a.PartNumber - b.PartNumber) },
        }),
      );
      this.finished = true;
      this.unregister();
    } catch (error) {
      throw s3Error(error, 'write', this.target.name);
    }
  }

  /** Drops every uploaded part. Returns an error message if the store would not. */
  async abort(): Promise<string | undefined> {
    if (this.finished) return undefined;
    await Promise.allSettled(this.running);
    const { client, sdk, bucket, key } = this.target;
    try {
      await client.send(new sdk.AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: this.uploadId }));
      this.finished = true;
      this.unregister();
      return undefined;
    } catch (error) {
      return `the multipart upload ${this.uploadId} could not be aborted: ${s3Error(error, 'abort', this.target.name).message}`;
    }
  }
}

/** Cuts a byte stream into parts of the sizes `sizeOf(n)` gives, reusing each part's buffer once it is uploaded. */
export class PartAssembler {
  private buffer: Buffer | undefined;
  private filled = 0;
  private count = 0;
  private readonly spare: Buffer[] = [];

  constructor(private readonly sizeOf: (n: number) => number) {}

  /** Parts made so far. */
  get parts(): number {
    return this.count;
  }

  /** Bytes waiting in the part being filled. */
  get pending(): Uint8Array {
    return this.buffer ? this.buffer.subarray(0, this.filled) : new Uint8Array(0);
  }

  /** Adds bytes; yields each part that fills up. */
  *add(bytes: Uint8Array): Generator<Buffer> {
    let at = 0;
    while (at < bytes.length) {
      if (!this.buffer) this.buffer = this.take(this.sizeOf(this.count));
      const n = Math.min(bytes.length - at, this.buffer.length - this.filled);
      this.buffer.set(bytes.subarray(at, at + n), this.filled);
      this.filled += n;
      at += n;
      if (this.filled === this.buffer.length) {
        const full = this.buffer;
        this.buffer = undefined;
        this.filled = 0;
        this.count++;
        yield full;
      }
    }
  }

  /** Gives a part's buffer back once it is uploaded. */
  release(buffer: Buffer): void {
    if (this.spare.length < 2 * DEFAULT_PARTS_IN_FLIGHT) this.spare.push(buffer);
  }

  private take(size: number): Buffer {
    const index = this.spare.findIndex((b) => b.length === size);
    if (index >= 0) return this.spare.splice(index, 1)[0]!;
    this.spare.length = 0; // sizes only grow: the old ones will not fit again
    return Buffer.allocUnsafe(size);
  }
}
