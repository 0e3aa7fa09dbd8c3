/** Messages between the codec pool and its worker threads. */
export type CodecName = 'zlib' | 'pako' | 'pako-legacy' | 'zstd';

export interface CodecJob {
  id: number;
  op: 'compress' | 'decompress';
  codec: CodecName;
  level: number;
  clusterSize: number;
  /** The pieces, back to back; piece i is input[bounds[i], bounds[i + 1]). */
  input: ArrayBuffer;
  bounds: number[];
  /** Inflating: one buffer of clusterSize bytes per piece, for its cluster; transferred back with the reply. */
  targets?: ArrayBuffer[];
}

/**
 * Below this length a result may be a slice of Node's shared buffer pool (Buffer.allocUnsafe
 * pools allocations under half of Buffer.poolSize), which must never be transferred.
 */
export const OWNS_ITS_BUFFER = Buffer.poolSize >>> 1;

export interface CodecReply {
  id: number;
  /** The job's input buffer, handed back for reuse. */
  input: ArrayBuffer;
  /** Piece i's result: views of buffers transferred with the reply, never copied on arrival. */
  outputs: Uint8Array[];
  /** A message where piece i failed, else null. */
  errors: Array<string | null>;
}
