import test from 'ava';
import { InputError } from '../../src/errors.js';
import { AllocationMap } from '../../src/format/allocation-map.js';
import { l2Entries } from '../../src/format/geometry.js';
import type { Qcow2Layout } from '../../src/format/layout.js';
import type { ClusterRecord } from '../../src/stages/clusters.js';
import { writeQcow2 } from '../../src/stages/qcow2-writer.js';
import { MemorySpool, type Spool } from '../../src/stages/spool.js';
import { collect, randomBytes } from '../helpers/files.js';

const CS = 4096;

function stream(records: ClusterRecord[]): AsyncIterable<ClusterRecord> {
  return (async function* () {
    yield* records;
  })();
}

const data = (index: number, count = 1): ClusterRecord => ({ kind: 'data', index, bytes: randomBytes(count * CS, index + 1) });

function promised(records: ClusterRecord[], virtualSize: number): ClusterRecord[] {
  const map = new AllocationMap(l2Entries(CS));
  for (const r of records) if (r.kind === 'data') map.addData(r.index, r.bytes.length / CS);
  return [{ kind: 'begin', clusterSize: CS, virtualSize, allocation: map }, ...records, { kind: 'end', virtualSize }];
}

test('spooled and promised-map streams give identical bytes, as long as planned', async (t) => {
  const body = [data(0, 3), data(7), data(600, 2), data(2000)];
  const virtualSize = 2001 * CS;
  let plan: Qcow2Layout | undefined;
  const spooled = await collect(writeQcow2({ onPlan: (l) => (plan = l) })(stream([{ kind: 'begin', clusterSize: CS }, ...body, { kind: 'zero', index: 2001, count: 1 }, { kind: 'end', virtualSize }])));
  const direct = await collect(writeQcow2()(stream(promised(body, virtualSize))));
  t.true(spooled.equals(direct));
  t.is(spooled.length, plan?.totalLength ?? -1);
});

test('the plan is known before the first byte', async (t) => {
  let planned = false;
  const output = writeQcow2({ onPlan: () => (planned = true) })(stream(promised([data(1)], 8 * CS)));
  const first = await output.next();
  t.false(first.done);
  t.true(planned);
  await output.return(undefined);
});

test('a source that breaks its promised map is refused', async (t) => {
  const records = promised([data(1), data(5)], 8 * CS);
  const swapped = records.map((r) => (r.kind === 'data' && r.index === 5 ? data(6) : r));
  await t.throwsAsync(collect(writeQcow2()(stream(swapped))), { instanceOf: InputError, message: /does not match its allocation map/ });
  const missing = records.filter((r) => !(r.kind === 'data' && r.index === 5));
  await t.throwsAsync(collect(writeQcow2()(stream(missing))), { instanceOf: InputError, message: /never came/ });
});

test('records out of order, past the virtual size, or not whole clusters are refused', async (t) => {
  const begin: ClusterRecord = { kind: 'begin', clusterSize: CS };
  const end: ClusterRecord = { kind: 'end', virtualSize: 8 * CS };
  await t.throwsAsync(collect(writeQcow2()(stream([begin, data(3), data(2), end]))), { instanceOf: InputError, message: /ascending/ });
  await t.throwsAsync(collect(writeQcow2()(stream([begin, data(8), end]))), { instanceOf: InputError, message: /past the/ });
  await t.throwsAsync(collect(writeQcow2()(stream([begin, { kind: 'data', index: 0, bytes: new Uint8Array(100) }, end]))), { instanceOf: InputError });
  await t.throwsAsync(collect(writeQcow2()(stream([data(0), end]))), { instanceOf: InputError, message: /begin record/ });
  await t.throwsAsync(collect(writeQcow2()(stream([begin, data(0)]))), { instanceOf: InputError, message: /end record/ });
});

class WatchedSpool implements Spool {
  closed = 0;
  private readonly inner = new MemorySpool();
  get size() {
    return this.inner.size;
  }
  write(bytes: Uint8Array) {
    return this.inner.write(bytes);
  }
  read() {
    return this.inner.read();
  }
  async close() {
    this.closed++;
    await this.inner.close();
  }
}

test('the spool is closed on success, on a source error and when the consumer stops early', async (t) => {
  const ok = new WatchedSpool();
  await collect(writeQcow2({ spool: () => ok })(stream([{ kind: 'begin', clusterSize: CS }, data(0), { kind: 'end', virtualSize: CS }])));
  t.is(ok.closed, 1);

  const failing = new WatchedSpool();
  async function* broken(): AsyncGenerator<ClusterRecord> {
    yield { kind: 'begin', clusterSize: CS };
    yield data(0);
    throw new Error('disk on fire');
  }
  await t.throwsAsync(collect(writeQcow2({ spool: () => failing })(broken())), { message: 'disk on fire' });
  t.is(failing.closed, 1);

  const abandoned = new WatchedSpool();
  let sourceFinished = false;
  async function* watched(): AsyncGenerator<ClusterRecord> {
    try {
      yield { kind: 'begin', clusterSize: CS };
      yield data(0);
      yield { kind: 'end', virtualSize: CS };
    } finally {
      sourceFinished = true;
    }
  }
  const output = writeQcow2({ spool: () => abandoned })(watched());
  await output.next();
  await output.return(undefined);
  t.is(abandoned.closed, 1);
  t.true(sourceFinished);
});
