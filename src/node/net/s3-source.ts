/** Reading an image from S3 with one streaming GetObject, its body copied into whole pool buffers (stages/rechunk.ts). */
import type { Readable } from 'node:stream';
import { IoError } from '../../errors.js';
import { rechunk } from '../../stages/rechunk.js';
import { s3Client, s3Error, type S3Options } from './s3-client.js';
import type { ByteSource } from './http-source.js';

export async function s3Source(bucket: string, key: string, options: S3Options = {}, name = `s3://${bucket}/${key}`): Promise<ByteSource> {
  const { client, sdk, owned } = await s3Client(options);
  let body: Readable;
  let length: number | undefined;
  try {
    const response = await client.send(new sdk.GetObjectCommand({ Bucket: bucket, Key: key }));
    body = response.Body as Readable;
    length = response.ContentLength;
  } catch (error) {
    if (owned) client.destroy();
    throw s3Error(error, 'read', name);
  }
  const chunks = async function* (): AsyncGenerator<Uint8Array> {
    let received = 0;
    try {
      for await (const chunk of body) {
        received += (chunk as Buffer).length;
        yield chunk as Buffer;
      }
      if (length !== undefined && received !== length) throw new IoError(`cannot read '${name}': the connection closed after ${received} of ${length} bytes`, { path: name });
    } catch (error) {
      throw s3Error(error, 'read', name);
    } finally {
      body.destroy();
      if (owned) client.destroy();
    }
  };
  return { chunks: rechunk(chunks()), ...(length !== undefined && { length }) };
}
