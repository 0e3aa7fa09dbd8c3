/** A raw image file as a GuestImage (a backing file): positional reads, zeros past its end. */
import { open, type FileHandle } from 'node:fs/promises';
import type { GuestImage } from '../stages/guest-image.js';
import { isAllZero } from '../stages/zero-detect.js';
import { ioError } from './io-error.js';
import { readFully } from './positional-io.js';

export class RawFileImage implements GuestImage {
  private constructor(
    private readonly file: FileHandle,
    private readonly path: string,
    readonly virtualSize: number,
  ) {}

  static async open(path: string): Promise<RawFileImage> {
    try {
      const file = await open(path, 'r');
      return new RawFileImage(file, path, Number((await file.stat()).size));
    } catch (error) {
      throw ioError(error, 'open', path);
    }
  }

  async read(offset: number, length: number): Promise<Uint8Array | undefined> {
    if (offset >= this.virtualSize) return undefined;
    const bytes = new Uint8Array(length);
    try {
      await readFully(this.file.fd, bytes, Math.min(length, this.virtualSize - offset), offset);
    } catch (error) {
      throw ioError(error, 'read', this.path);
    }
    return isAllZero(bytes) ? undefined : bytes;
  }

  async close(): Promise<void> {
    await this.file.close();
  }
}
