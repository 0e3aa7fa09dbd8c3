/**
 * The Node stream face of any stage: a streamx Duplex whose writable side feeds the stage's
 * input and whose readable side carries its output. Backpressure holds both ways: a write is
 * acknowledged only when the stage takes it, and the stage is only asked for output when the
 * readable side wants more.
 */
import { Duplex } from 'streamx';

type Pending<T> = { value: T; ack: (error?: Error | null) => void } | { end: true; ack: (error?: Error | null) => void };

/** A one-consumer queue turning writes into an async iterable. */
class InputQueue<T> implements AsyncIterable<T> {
  private readonly items: Pending<T>[] = [];
  private waiter: (() => void) | undefined;
  private failure: Error | undefined;
  private finished = false;

  push(item: Pending<T>): void {
    if (this.finished) return item.ack();
    this.items.push(item);
    this.wake();
  }

  /** The stage is done reading (it may stop before the end): whatever else comes is acknowledged and dropped. */
  finish(): void {
    this.finished = true;
    for (const item of this.items.splice(0)) item.ack();
  }

  fail(error: Error): void {
    this.failure = error;
    for (const item of this.items.splice(0)) item.ack(error);
    this.wake();
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    for (;;) {
      if (this.failure) throw this.failure;
      const item = this.items.shift();
      if (!item) {
        await new Promise<void>((resolve) => (this.waiter = resolve));
        continue;
      }
      item.ack();
      if ('end' in item) return;
      yield item.value;
    }
  }
}

export interface StageStreamOptions {
  /** Readable-side buffer in bytes (streamx's highWaterMark). */
  highWaterMark?: number;
}

/** Wraps a stage `(input) => output` as a streamx Duplex. */
export function stageToDuplex<In, Out>(stage: (source: AsyncIterable<In>) => AsyncIterable<Out>, options: StageStreamOptions = {}): Duplex {
  const input = new InputQueue<In>();
  let output: AsyncIterator<Out> | undefined;
  const outputOf = (): AsyncIterator<Out> => (output ??= stage(input)[Symbol.asyncIterator]());

  const duplex: Duplex = new Duplex({
    highWaterMark: options.highWaterMark ?? 1024 * 1024,
    byteLength: (data: unknown) => (data instanceof Uint8Array ? data.byteLength : 1024),
    write(data: In, cb: (error?: Error | null) => void) {
      input.push({ value: data, ack: cb });
    },
    final(cb: (error?: Error | null) => void) {
      input.push({ end: true, ack: cb });
    },
    read(cb: (error?: Error | null) => void) {
      outputOf()
        .next()
        .then(
          (step) => {
            if (step.done) input.finish();
            duplex.push(step.done ? null : step.value);
            cb(null);
          },
          (error: Error) => cb(error),
        );
    },
    predestroy() {
      input.fail(Object.assign(new Error('stream destroyed'), { code: 'ERR_STREAM_DESTROYED' }));
    },
    destroy(cb: (error?: Error | null) => void) {
      const running = output;
      if (!running?.return) return cb(null);
      running.return(undefined).then(
        () => cb(null),
        () => cb(null),
      );
    },
  } as ConstructorParameters<typeof Duplex>[0]);
  return duplex;
}
