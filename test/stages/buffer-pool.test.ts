/** The buffer pool: references counted per buffer, a buffer back only after its last one, a release too many an error. */
import test from 'ava';
import { BufferPool, BufferReleaseError, isPooled, release, retain } from '../../src/stages/buffer-pool.js';

test('a buffer comes back after its last reference, from any view of it, and is handed out again', (t) => {
  const pool = new BufferPool();
  const first = pool.take(10_000);
  t.is(first.length, 10_000);
  t.is(first.buffer.byteLength, 16384, 'sizes come in powers of two');
  retain(first, 2); // three holders: say, three compressed streams of one read
  const [a, b, c] = [first.subarray(0, 100), first.subarray(100, 200), first.subarray(200)];
  release(a);
  release(c);
  t.is(pool.outstanding, 1);
  t.not(pool.take(10_000).buffer, first.buffer, 'one view is still out');
  release(b);
  const again = pool.take(12_000);
  t.is(again.buffer, first.buffer, 'back in the pool, and handed out again');
  t.deepEqual({ taken: pool.stats().taken, returned: pool.stats().returned, allocated: pool.stats().allocated }, { taken: 3, returned: 1, allocated: 2 });
});

test('releasing once more than a buffer was handed out throws, whether it was reused or not', (t) => {
  const pool = new BufferPool();
  const bytes = pool.take(4096);
  release(bytes);
  t.throws(() => release(bytes), { instanceOf: BufferReleaseError });
  t.throws(() => retain(bytes), { instanceOf: BufferReleaseError }, 'nor can a buffer back in the pool be retained');
  // Dropped because the pool keeps nothing: still refused.
  const stingy = new BufferPool({ keepBytes: 0 });
  const dropped = stingy.take(4096);
  release(dropped);
  t.throws(() => release(dropped), { instanceOf: BufferReleaseError });
});

test('bytes that are not pooled are neither counted nor refused', (t) => {
  const mine = new Uint8Array(100);
  release(mine);
  release(mine);
  retain(mine);
  t.false(isPooled(mine));
  const huge = new BufferPool().take(BufferPool.MAX_POOLED + 1);
  t.false(isPooled(huge), 'past the largest size, memory of its own');
});

test('a buffer sent to a worker and back is adopted as a new reference', (t) => {
  const pool = new BufferPool();
  const sent = pool.takeBuffer(65536);
  t.is(pool.outstanding, 1, 'counted as out while it travels');
  const back = structuredClone(sent, { transfer: [sent] }); // a new object, as from postMessage
  t.is(sent.byteLength, 0, 'the original is detached');
  const view = pool.adopt(back, 65536);
  t.true(isPooled(view));
  release(view);
  t.is(pool.outstanding, 0);
  t.is(pool.take(65536).buffer, back);
  t.throws(() => pool.adopt(new ArrayBuffer(1000), 1000), { instanceOf: RangeError }, 'not a size the pool makes');
});

test('no more free bytes are kept than asked; leaks name where they were taken', (t) => {
  const pool = new BufferPool({ keepBytes: 2 * 4096 });
  pool.trackLeaks();
  const out = [pool.take(4096), pool.take(4096), pool.take(4096)];
  t.is(pool.leaks().length, 3);
  t.regex(pool.leaks()[0]!, /buffer-pool\.test/);
  for (const view of out) release(view);
  t.is(pool.stats().keptBytes, 2 * 4096);
  t.deepEqual(pool.leaks(), []);
  const again = [pool.take(4096), pool.take(4096), pool.take(4096)].map((view) => view.buffer);
  t.is(again.filter((buffer) => out.some((view) => view.buffer === buffer)).length, 2);
});
