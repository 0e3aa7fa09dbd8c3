/** Warnings go to stderr, one line each, and the work goes on. */
export function warn(message: string): void {
  process.stderr.write(`qcow2-stream: warning: ${message}\n`);
}
