/** Warnings go to stderr, one line each, and the work goes on; -q silences them. */
let quiet = false;

export function setQuiet(value: boolean): void {
  quiet = value;
}

export function warn(message: string): void {
  if (!quiet) process.stderr.write(`qcow2-stream: warning: ${message}\n`);
}
