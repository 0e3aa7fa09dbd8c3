/** The codecs for Node: node:zlib for deflate; zstd through libzstd compiled to WebAssembly (node:zlib has no zstd before Node 22.15). */
import { nodeDeflate } from '../codecs/deflate-node.js';
import { zstdCodec } from '../codecs/zstd.js';
import type { Codecs } from '../stages/decompress.js';

export function nodeCodecs(level?: number): Codecs {
  return { deflate: nodeDeflate(level), zstd: zstdCodec() };
}
