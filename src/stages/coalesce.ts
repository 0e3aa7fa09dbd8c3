/** Joins small chunks into chunks of at least `target` bytes (a chunk already that big passes as is). */
export function* coalesce(chunks: Iterable<Uint8Array>, target: number): Generator<Uint8Array> {
  let batch: Uint8Array[] = [];
  let size = 0;
  const flush = (): Uint8Array => {
    const joined = batch.length === 1 ? batch[0]! : new Uint8Array(size);
    if (batch.length > 1) {
      let at = 0;
      for (const chunk of batch) {
        joined.set(chunk, at);
        at += chunk.length;
      }
    }
    batch = [];
    size = 0;
    return joined;
  };
  for (const chunk of chunks) {
    batch.push(chunk);
    size += chunk.length;
    if (size >= target) yield flush();
  }
  if (size > 0) yield flush();
}
