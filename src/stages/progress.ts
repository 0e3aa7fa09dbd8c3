/**
 * A stage that reports how far a cluster stream has come, in guest bytes, out of the
 * virtual size when the stream knows it. Records pass through untouched.
 */
import type { ClusterRecord } from './clusters.js';

export type ProgressListener = (done: number, total: number | undefined) => void;

export function reportProgress(onProgress: ProgressListener): (source: AsyncIterable<ClusterRecord>) => AsyncGenerator<ClusterRecord> {
  return async function* progress(source) {
    let clusterSize = 0;
    let total: number | undefined;
    for await (const record of source) {
      if (record.kind === 'begin') {
        clusterSize = record.clusterSize;
        total = record.virtualSize;
        onProgress(0, total);
      } else if (record.kind === 'data') {
        onProgress(record.index * clusterSize + record.bytes.length, total);
      } else if (record.kind === 'compressed') {
        onProgress((record.index + 1) * clusterSize, total);
      } else if (record.kind === 'end') {
        onProgress(record.virtualSize, record.virtualSize);
      }
      yield record;
    }
  };
}
