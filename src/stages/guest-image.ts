/** Random access to a disk's guest bytes: what a backing image offers the image above it. */
export interface GuestImage {
  readonly virtualSize: number;
  /**
   * `length` guest bytes from `offset` (past the virtual size they read as zeros), or
   * undefined when the whole range reads as zeros and nothing had to be read.
   */
  read(offset: number, length: number): Promise<Uint8Array | undefined>;
  close(): Promise<void>;
}

/** Opens the image a backing file name points at; `depth` is 1 for the first backing image. */
export type BackingOpener = (name: string, format: string | undefined, depth: number) => Promise<GuestImage>;
