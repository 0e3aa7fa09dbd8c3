/**
 * Work to undo when the process is interrupted (SIGINT, SIGTERM, SIGHUP) before it can
 * finish: an S3 multipart upload to abort, so no orphaned parts stay behind, and the
 * temporary files of destinations not yet renamed into place, removed synchronously.
 */
const pending = new Set<() => Promise<unknown>>();
/** Temp files still on disk (file-sink.ts), removed by `removeTempFilesSync` when the process is interrupted. */
const liveTempFiles = new Set<string>();

export function trackTempFile(path: string): void {
  liveTempFiles.add(path);
}

export function untrackTempFile(path: string): void {
  liveTempFiles.delete(path);
}

export function removeTempFilesSync(unlinkSync: (path: string) => void): void {
  for (const path of liveTempFiles) {
    try {
      unlinkSync(path);
    } catch {
      // already gone
    }
  }
  liveTempFiles.clear();
}

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
