/**
 * Chunks gathered into batches of about `batchBytes`, each handed to `write` (a writev) while
 * the next one gathers: the copy into the kernel overlaps the work that makes the next batch.
 * One write is in flight at a time, since neither a pipe nor a moving file position keeps
 * order between concurrent writes. A write's failure surfaces at the next `add` or at `finish`.
 */
export class GatheredWrites {
  private batch: Uint8Array[] = [];
  private batchSize = 0;
  private inFlight: Promise<void> = Promise.resolve();

  constructor(
    private readonly write: (batch: Uint8Array[]) => Promise<void>,
    private readonly batchBytes: number,
  ) {}

  /** Bytes gathered and not yet handed to a write. */
  get gathered(): number {
    return this.batchSize;
  }

  async add(chunk: Uint8Array): Promise<void> {
    this.batch.push(chunk);
    this.batchSize += chunk.length;
    if (this.batchSize >= this.batchBytes) await this.flush();
  }

  /** Waits for the write in flight, then starts writing what is gathered. */
  async flush(): Promise<void> {
    await this.inFlight;
    if (this.batchSize === 0) return;
    const batch = this.batch;
    this.batch = [];
    this.batchSize = 0;
    this.inFlight = this.write(batch);
    this.inFlight.catch(() => {}); // surfaces at the next await of `inFlight`
  }

  /** Writes everything gathered and waits until it is written. */
  async finish(): Promise<void> {
    await this.flush();
    await this.inFlight;
  }

  /** Waits for the write in flight, failed or not, and hands back what was gathered but never written. */
  async abandon(): Promise<Uint8Array[]> {
    await this.inFlight.catch(() => {});
    const batch = this.batch;
    this.batch = [];
    this.batchSize = 0;
    return batch;
  }
}
