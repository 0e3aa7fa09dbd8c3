/**
 * Work to undo when the process is interrupted (SIGINT, SIGTERM, SIGHUP) before it can
 * finish: an S3 multipart upload to abort, so no orphaned parts stay behind. (Temporary
 * files have their own, synchronous, list in file-sink.ts.)
 */
const pending = new Set<() => Promise<unknown>>();

/** Registers `undo`; call the returned function once it is no longer needed. */
export function registerCleanup(undo: () => Promise<unknown>): () => void {
  pending.add(undo);
  return () => pending.delete(undo);
}

/** Runs every registered cleanup, giving up after `timeoutMs`. */
export async function runCleanups(timeoutMs: number): Promise<void> {
  const all = [...pending].map((undo) => undo().catch(() => {}));
  pending.clear();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all(all), new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
  clearTimeout(timer);
}
