/**
 * Writing an image to S3.
 *
 * qcow2 goes head last (design.md): data parts 2..N go up as the writer produces them, and
 * at the end the head (header and tables, padded to S3's 5 MiB part minimum) goes up as
 * part 1. One pass, no spool, for any source. An image whose data fits in one part is sent
 * with a single PutObject instead, laid out with no padding (the same bytes as a file).
 * Other bytes (a raw image) go up in order. Either way a failure aborts the upload.
 */
import { constants } from 'node:buffer';
import { LimitError } from '../../errors.js';
import { release } from '../../stages/buffer-pool.js';
import type { HeadLastSegment } from '../../stages/qcow2-head-last-writer.js';
import { s3Client, s3Error, type S3Options } from './s3-client.js';
import { DEFAULT_PART_SIZE, MAX_PART_SIZE, MIN_PART_SIZE, MultipartUpload, PartAssembler, partSizeFor, type S3Object } from './s3-multipart.js';

export interface S3Destination {
  bucket: string;
  key: string;
  /** For messages; default s3://bucket/key. */
  name?: string;
}

export interface S3SinkOptions extends S3Options {
  /** Called with the object's length once it is known (before its last part goes up). */
  onLength?: (length: number) => void;
}

async function target(destination: S3Destination, options: S3SinkOptions): Promise<{ object: S3Object; close: () => void }> {
  const { client, sdk, owned } = await s3Client(options);
  return {
    object: { client, sdk, bucket: destination.bucket, key: destination.key, name: destination.name ?? `s3://${destination.bucket}/${destination.key}` },
    close: () => {
      if (owned) client.destroy();
    },
  };
}

function initialPartSize(options: S3Options): number {
  const size = options.partSize ?? DEFAULT_PART_SIZE;
  if (!Number.isSafeInteger(size) || size < MIN_PART_SIZE || size > MAX_PART_SIZE) throw new LimitError('S3 part size', `${size} is not between 5 MiB and 5 GiB`);
  return size;
}

async function putObject(object: S3Object, body: Uint8Array): Promise<void> {
  try {
    await object.client.send(new object.sdk.PutObjectCommand({ Bucket: object.bucket, Key: object.key, Body: body, ContentLength: body.length, ContentType: 'application/octet-stream' }));
  } catch (error) {
    throw s3Error(error, 'write', object.name);
  }
}

/**
 * Bytes cut into parts and uploaded, numbered from `firstPart`; the multipart upload starts
 * with the first full part, so a stream shorter than one part never starts one.
 */
class PartStream {
  private readonly parts: PartAssembler;
  upload: MultipartUpload | undefined;
  length = 0;

  constructor(
    private readonly object: S3Object,
    private readonly options: S3SinkOptions,
    private readonly firstPart: number,
  ) {
    const partSize = initialPartSize(options);
    this.parts = new PartAssembler((n) => partSizeFor(n, partSize));
  }

  /** Bytes not yet in a part. */
  get pending(): Uint8Array {
    return this.parts.pending;
  }

  /** Copies `bytes` into parts, then releases its reference. */
  async write(bytes: Uint8Array): Promise<void> {
    this.length += bytes.length;
    try {
      for (const part of this.parts.add(bytes)) {
        this.upload ??= await MultipartUpload.start(this.object, this.options.partsInFlight);
        await this.upload.upload(this.firstPart + this.parts.parts - 1, part, part.length, () => this.parts.release(part));
      }
    } finally {
      release(bytes);
    }
  }

  /** Uploads what is pending as the last part. */
  async flush(): Promise<void> {
    const last = this.parts.pending;
    if (last.length > 0) await this.upload!.upload(this.firstPart + this.parts.parts, last, last.length);
  }

  /** Aborts the upload, if one started; a failure to abort is added to `error`'s message. */
  async abortFor(error: unknown): Promise<void> {
    const failure = await this.upload?.abort();
    if (failure && error instanceof Error) error.message += `; ${failure}`;
  }
}

/** Runs `body` with a part stream on the object, aborting its upload on failure. */
async function withPartStream<T>(destination: S3Destination, options: S3SinkOptions, firstPart: number, body: (stream: PartStream, object: S3Object) => Promise<T>): Promise<T> {
  const { object, close } = await target(destination, options);
  const stream = new PartStream(object, options, firstPart);
  try {
    return await body(stream, object);
  } catch (error) {
    await stream.abortFor(error);
    throw error;
  } finally {
    close();
  }
}

/** Uploads a head-last qcow2 stream: data as parts 2..N, then the head as part 1. Returns the object's length. */
export function uploadHeadLast(segments: AsyncIterable<HeadLastSegment>, destination: S3Destination, options: S3SinkOptions = {}): Promise<number> {
  return withPartStream(destination, options, 2, async (data, object) => {
    for await (const segment of segments) {
      if (segment.kind === 'data') await data.write(segment.bytes);
      if (segment.kind !== 'head') continue;
      if (!data.upload) {
        // Everything fits in one request: no padding, the bytes a file would get.
        const { layout, chunks } = segment.plan(0);
        options.onLength?.(layout.totalLength);
        await putObject(object, Buffer.concat([...chunks, data.pending]));
        return layout.totalLength;
      }
      const { layout } = segment.plan(MIN_PART_SIZE);
      if (layout.dataOffset > MAX_PART_SIZE) throw new LimitError('S3 part size', `the image's tables take ${layout.dataOffset} bytes, over S3's 5 GiB part limit`);
      if (layout.dataOffset + data.length !== layout.totalLength) throw new Error('internal: the data region differs from the plan');
      options.onLength?.(layout.totalLength);
      await data.flush();
      // In one buffer, so the SDK can retry it (it never retries a stream body). A head past
      // what one Buffer holds (over 4 GiB, Node 20 only) still goes as a stream.
      const head = layout.dataOffset <= constants.MAX_LENGTH ? Buffer.concat([...segment.plan(MIN_PART_SIZE).chunks], layout.dataOffset) : () => segment.plan(MIN_PART_SIZE).chunks;
      await data.upload.upload(1, head, layout.dataOffset);
      await data.upload.complete();
      return layout.totalLength;
    }
    throw new Error('internal: the head-last stream ended without its head');
  });
}

/** Uploads bytes in order (a raw image, or any stream). Returns the object's length. */
export function uploadBytes(chunks: AsyncIterable<Uint8Array>, destination: S3Destination, options: S3SinkOptions = {}): Promise<number> {
  return withPartStream(destination, options, 1, async (stream, object) => {
    for await (const chunk of chunks) await stream.write(chunk);
    options.onLength?.(stream.length);
    if (!stream.upload) {
      await putObject(object, stream.pending);
      return stream.length;
    }
    await stream.flush();
    await stream.upload.complete();
    return stream.length;
  });
}
