/**
 * Host byte ranges a streaming reader is waiting for, ordered by the next byte each needs:
 * a binary min-heap, so the item the input reaches first is always on top.
 */

/** Consecutive guest clusters stored at consecutive host clusters. */
export interface WantedDataRun {
  kind: 'data';
  /** Host offset of the next cluster of the run. */
  next: number;
  /** Guest cluster that host cluster belongs to. */
  guest: number;
  remaining: number;
  /** Bytes of each host cluster that must exist (less than a cluster with subclusters). */
  needed: number;
}

/** One compressed stream, gathered byte by byte (it may span host clusters). */
export interface WantedStream {
  kind: 'compressed';
  next: number;
  start: number;
  end: number;
  guest: number;
  /** Allocated when the first byte arrives: never in proportion to what a table merely claims. */
  buffer: Uint8Array | undefined;
}

export type Wanted = WantedDataRun | WantedStream;

export class WantedHeap {
  private readonly items: Wanted[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): Wanted | undefined {
    return this.items[0];
  }

  push(item: Wanted): void {
    const items = this.items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent]!.next <= item.next) break;
      items[i] = items[parent]!;
      i = parent;
    }
    items[i] = item;
  }

  pop(): Wanted | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= items.length) break;
        const right = left + 1;
        const child = right < items.length && items[right]!.next < items[left]!.next ? right : left;
        if (items[child]!.next >= last.next) break;
        items[i] = items[child]!;
        i = child;
      }
      items[i] = last;
    }
    return top;
  }

  /** Everything still waiting, in no particular order. */
  drainAll(): Wanted[] {
    return this.items.splice(0);
  }
}
