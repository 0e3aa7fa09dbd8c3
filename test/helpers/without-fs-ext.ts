/**
 * Loaded with `node --import` (NODE_OPTIONS), it makes the optional native `fs-ext` module
 * unloadable, as on a machine where it could not be built: the fallbacks run instead.
 */
import Module from 'node:module';

const loader = Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string };
const resolve = loader._resolveFilename;
loader._resolveFilename = function (request: string, ...rest: unknown[]): string {
  if (request === 'fs-ext') throw Object.assign(new Error("Cannot find module 'fs-ext'"), { code: 'MODULE_NOT_FOUND' });
  return resolve.call(this, request, ...rest);
};
