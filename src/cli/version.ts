/**
 * `qcow2-stream --version`. A module of its own with nothing behind it: the bundled command
 * line answers --version from it without loading (or parsing) the rest (scripts/bundle-cli.mjs).
 */
import { readFileSync, writeSync } from 'node:fs';

/** The package's version, from the nearest package.json above this module (bundled or not, it sits at a different depth). */
function version(): string {
  for (let dir = new URL('.', import.meta.url); ; dir = new URL('..', dir)) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { name?: string; version: string };
      if (pkg.name === 'qcow2-stream') return pkg.version;
    } catch {
      // not here
    }
    if (dir.pathname === '/') return 'unknown';
  }
}

/** Prints `qcow2-stream VERSION` (with writeSync: process.stdout would load Node's stream machinery for one line). */
export function printVersion(): void {
  writeSync(1, `qcow2-stream ${version()}\n`);
}
