/**
 * The growth rule for S3 part sizes, for every first size --part-size allows (5 MiB to 5 GiB):
 * 9,999 data parts (a head-last upload keeps part 1 for the head) reach S3's 5 TiB object
 * limit, every part keeps S3's bounds, and sizes never shrink (the part assembler only
 * reuses buffers of the size it asks for next).
 */
import test from 'ava';
import { MAX_PART_SIZE, MIN_PART_SIZE, partSizeFor } from '../../src/node/net/s3-multipart.js';
import { prng } from '../helpers/files.js';

const MIB = 1024 * 1024;
const FIVE_TIB = 5 * 1024 ** 4;
const DATA_PARTS = 9_999;

function firstSizes(): number[] {
  const next = prng(11);
  const sizes = [MIN_PART_SIZE, MIN_PART_SIZE + 1, 5.125 * MIB, Math.round(5.2 * MIB), Math.round(5.26 * MIB), 6 * MIB, 8 * MIB, 64 * MIB, 1024 * MIB, MAX_PART_SIZE - 1, MAX_PART_SIZE];
  for (let i = 0; i < 40; i++) sizes.push(MIN_PART_SIZE + Math.floor((next() / 2 ** 32) * (64 * MIB - MIN_PART_SIZE)));
  return sizes;
}

test('from every allowed first size, 9,999 parts reach 5 TiB, within S3 bounds, never shrinking', (t) => {
  for (const initial of firstSizes()) {
    let total = 0;
    let previous = 0;
    for (let n = 0; n < DATA_PARTS; n++) {
      const size = partSizeFor(n, initial);
      if (size < previous || size < MIN_PART_SIZE || size > MAX_PART_SIZE || !Number.isSafeInteger(size)) {
        return t.fail(`first size ${initial}: part ${n} is ${size} bytes after ${previous}`);
      }
      previous = size;
      total += size;
    }
    t.true(total >= FIVE_TIB, `first size ${initial}: 9,999 parts hold only ${total} bytes`);
  }
});

test('the first thousand parts are the size asked for, and 8 MiB parts double as documented', (t) => {
  t.is(partSizeFor(0, 6 * MIB), 6 * MIB);
  t.is(partSizeFor(999, 6 * MIB), 6 * MIB);
  t.is(partSizeFor(1000, 6 * MIB), 12 * MIB);
  t.is(partSizeFor(8999, 8 * MIB), 8 * MIB * 256);
  t.is(partSizeFor(9000, 8 * MIB), 8 * MIB * 512);
  t.is(partSizeFor(5000, 1024 * MIB), MAX_PART_SIZE);
});
