/**
 * Guest clusters to raw bytes: data as it is, zeros for every cluster no record mentions,
 * cut at the virtual size. Compressed records must be inflated first (decompressClusters).
 * Each data chunk goes downstream with its record's reference; zeros are a shared block.
 */
import { InputError } from '../errors.js';
import { release } from './buffer-pool.js';
import type { ClusterRecord } from './clusters.js';
import { zeros } from './zeros.js';

export function writeRaw(): (source: AsyncIterable<ClusterRecord>) => AsyncGenerator<Uint8Array> {
  return async function* rawWriter(source) {
    let clusterSize = 0;
    let virtualSize = Infinity;
    let position = 0;
    /** With the size unknown until the end, the last data record waits to be cut to it. */
    let held: Uint8Array | undefined;
    for await (const record of source) {
      switch (record.kind) {
        case 'begin':
          clusterSize = record.clusterSize;
          virtualSize = record.virtualSize ?? Infinity;
          break;
        case 'zero':
          break;
        case 'compressed':
          throw new InputError(`guest cluster ${record.index} is still compressed: decompress before writing raw`);
        case 'data': {
          const at = record.index * clusterSize;
          if (at < position) throw new InputError(`guest cluster ${record.index} comes out of order`);
          if (held) yield held;
          yield* zeros(Math.min(at, virtualSize) - position);
          const bytes = record.bytes.subarray(0, Math.max(0, Math.min(record.bytes.length, virtualSize - at)));
          if (virtualSize === Infinity) held = bytes;
          else if (bytes.length > 0) yield bytes;
          else release(bytes);
          position = at + bytes.length;
          break;
        }
        case 'end': {
          if (held) {
            const over = position - record.virtualSize;
            const last = over > 0 ? held.subarray(0, Math.max(0, held.length - over)) : held;
            held = undefined;
            if (last.length > 0) yield last;
            else release(last);
            position -= Math.max(0, over);
          }
          yield* zeros(Math.max(0, record.virtualSize - position));
          return;
        }
      }
    }
    throw new InputError('cluster stream ended without an end record');
  };
}
