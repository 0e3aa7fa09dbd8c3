/** The buffer pool: a buffer comes back only once every view handed out of it is released, and never while one is out. */
import test from 'ava';
import { BufferPool } from '../../src/node/buffer-pool.js';

test('a view released whole brings its buffer back; a split or foreign view does not', (t) => {
  const pool = new BufferPool(1024, 4);
  const first = pool.take(1024);
  pool.release(first.subarray(0, 512)); // a piece: ignored
  pool.release(new Uint8Array(1024)); // not the pool's: ignored
  const second = pool.take(1024);
  t.not(second.buffer, first.buffer, 'the first buffer is still out');
  pool.release(first);
  pool.release(first); // twice: the second time is ignored
  const third = pool.take(100);
  t.is(third.buffer, first.buffer);
  const fourth = pool.take(100);
  t.not(fourth.buffer, first.buffer, 'a buffer released twice must not be handed out twice');
});

test('a buffer handed out as several views comes back after the last of them', (t) => {
  const pool = new BufferPool(1024, 4);
  const buffer = pool.borrow(900);
  const views = [buffer.subarray(0, 300), buffer.subarray(300, 600), buffer.subarray(600, 900)];
  pool.handOut(buffer, views);
  pool.release(views[0]!);
  pool.release(views[2]!);
  t.not(pool.take(10).buffer, buffer.buffer, 'one view is still out');
  pool.release(buffer.subarray(300, 601)); // not a view that was handed out
  t.not(pool.take(10).buffer, buffer.buffer);
  pool.release(views[1]!);
  t.is(pool.take(10).buffer, buffer.buffer);
});

test('sibling pools of other sizes share release; adopted buffers come back to their own size', (t) => {
  const reads = new BufferPool(1024, 4);
  const clusters = reads.sibling(256, 4);
  t.is(reads.sibling(256, 4), clusters, 'one sibling per size');
  t.is(reads.sibling(1024, 4), reads);
  const transferred = clusters.takeBuffer();
  const adopted = clusters.adopt(transferred, 256);
  reads.release(adopted); // a sink that only knows the read pool
  t.is(clusters.take(256).buffer, transferred);
  t.throws(() => clusters.adopt(new ArrayBuffer(100), 100), { instanceOf: RangeError });
});

test('no more buffers are kept than asked', (t) => {
  const pool = new BufferPool(64, 2);
  const out = [pool.take(64), pool.take(64), pool.take(64)];
  for (const view of out) pool.release(view);
  const again = [pool.take(64), pool.take(64), pool.take(64)].map((view) => view.buffer);
  t.is(again.filter((buffer) => out.some((view) => view.buffer === buffer)).length, 2);
});
