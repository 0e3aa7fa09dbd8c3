/**
 * Emits the data region of a planned image from its payload: the data and compressed bytes
 * of the allocated clusters, concatenated in guest order. Inserts the zero padding the
 * placement asks for (before an aligned cluster that follows compressed streams, where a
 * refcount would overflow, and at the end up to a whole cluster).
 *
 * Ownership (see buffer-pool.ts): the payload's chunks hand their references on to the views
 * of them that leave; padding is a shared block of zeros.
 */
import { InputError } from '../errors.js';
import type { AllocationMap } from '../format/allocation-map.js';
import { placeData } from '../format/data-placement.js';
import { RUN_DATA } from '../format/allocation-map.js';
import type { Qcow2Layout } from '../format/layout.js';
import { maxRefcount } from '../format/refcount-block.js';
import { release } from './buffer-pool.js';
import { ByteCursor } from './byte-cursor.js';
import { zeros } from './zeros.js';

/**
 * Joins views that lie side by side in one buffer, so a payload chunk that needs no padding
 * leaves as the very view it came in, in one write. Each view added holds a reference; a
 * joined run holds one, so the view it absorbs gives its own back.
 */
class AdjacentViews {
  private pending: Uint8Array | undefined;

  /** Adds a view; returns the previous run when this one does not continue it. */
  add(view: Uint8Array): Uint8Array | undefined {
    const pending = this.pending;
    if (pending && pending.buffer === view.buffer && pending.byteOffset + pending.byteLength === view.byteOffset) {
      this.pending = new Uint8Array(pending.buffer, pending.byteOffset, pending.byteLength + view.byteLength);
      release(view);
      return undefined;
    }
    this.pending = view;
    return pending;
  }

  flush(): Uint8Array | undefined {
    const pending = this.pending;
    this.pending = undefined;
    return pending;
  }
}

/**
 * The payload, cut into one piece per guest cluster in guest order, handed out in the order
 * the placement asks for: a piece asked for later than it arrives (a plain cluster held
 * back, see data-placement.ts) waits in a small stash.
 */
class GuestPayload {
  private readonly cursor: ByteCursor;
  private readonly items: Generator<{ guest: number; length: number }>;
  private readonly stash = new Map<number, Uint8Array[]>();

  constructor(map: AllocationMap, clusterSize: number, payload: AsyncIterable<Uint8Array>) {
    this.cursor = new ByteCursor(payload);
    this.items = (function* () {
      for (const run of map.runs()) {
        for (let k = 0; k < run.count; k++) {
          yield { guest: run.start + k, length: run.kind === RUN_DATA ? clusterSize : map.compressedLength(run.lengthsAt + k) };
        }
      }
    })();
  }

  async *take(guest: number): AsyncGenerator<Uint8Array> {
    const stashed = this.stash.get(guest);
    if (stashed) {
      this.stash.delete(guest);
      yield* stashed;
      return;
    }
    for (;;) {
      const item = this.items.next();
      if (item.done) throw new InputError(`no cluster data for guest cluster ${guest}`);
      const pieces = this.cursor.take(item.value.length);
      if (item.value.guest === guest) {
        const missing = yield* pieces;
        if (missing > 0) throw new InputError(`cluster data ended ${missing} bytes early`);
        return;
      }
      const kept: Uint8Array[] = [];
      let step = await pieces.next();
      for (; !step.done; step = await pieces.next()) kept.push(step.value);
      if (step.value > 0) throw new InputError(`cluster data ended ${step.value} bytes early`);
      this.stash.set(item.value.guest, kept);
    }
  }

  async atEnd(): Promise<boolean> {
    return this.stash.size === 0 && this.items.next().done === true && (await this.cursor.atEnd());
  }

  close(): Promise<void> {
    for (const pieces of this.stash.values()) pieces.forEach(release);
    this.stash.clear();
    return this.cursor.close();
  }
}

export async function* emitDataRegion(layout: Qcow2Layout, map: AllocationMap, payload: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const source = new GuestPayload(map, layout.clusterSize, payload);
  const views = new AdjacentViews();
  try {
    let position = 0;
    for (const placement of placeData(map, layout.clusterSize, maxRefcount(layout.refcountOrder))) {
      if (placement.at > position) {
        const run = views.flush();
        if (run) yield run;
        yield* zeros(placement.at - position);
      }
      const guests = placement.kind === 'data' ? placement.count : 1;
      const first = placement.kind === 'data' ? placement.start : placement.index;
      for (let k = 0; k < guests; k++) {
        for await (const piece of source.take(first + k)) {
          const run = views.add(piece);
          if (run) yield run;
        }
      }
      position = placement.at + (placement.kind === 'data' ? placement.count * layout.clusterSize : placement.length);
    }
    const run = views.flush();
    if (run) yield run;
    if (!(await source.atEnd())) throw new InputError('cluster data goes on past the last allocated cluster');
    yield* zeros(layout.dataClusters * layout.clusterSize - position);
  } finally {
    const unsent = views.flush();
    if (unsent) release(unsent);
    await source.close();
  }
}
