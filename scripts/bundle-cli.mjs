#!/usr/bin/env node
/**
 * Bundles the command line into build/cli/ (run after tsc). Node resolves and loads each ES
 * module separately, and the CLI's hundred-odd modules cost about 100 ms of every run; one
 * CommonJS file loads faster still than one ES module (a 1 MiB conversion: 0.154 against
 * 0.183 s, node -e 0 being 0.105 s). The codec worker is a file of its own beside it, which
 * codec-pool.ts finds by its URL; so is --version, which the command's small entry answers
 * before it loads the rest. The library's modules (build/src) are not bundled. The AWS SDK is
 * a bundle of its own, loaded only for s3:// (the library has it as an optional peer, so the
 * command line carries its own copy); fs-ext (native) and zstddec stay outside.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

const OUT = 'build/cli';
rmSync(OUT, { recursive: true, force: true }); // nothing of an earlier build stays beside this one
mkdirSync(OUT, { recursive: true });
// The package is "type": "module"; these files are CommonJS.
writeFileSync(`${OUT}/package.json`, '{ "type": "commonjs" }\n');

/** The main bundle loads the SDK from its own bundle beside it, and only for an s3:// location. */
const sdkBeside = {
  name: 'aws-sdk-beside',
  setup(build) {
    build.onResolve({ filter: /^@aws-sdk\/client-s3$/ }, (args) => (args.importer.endsWith('aws-sdk-client-s3.cjs') ? undefined : { path: './aws-sdk-client-s3.js', external: true }));
  },
};

for (const [name, entry] of [
  ['main', 'build/src/cli/main.js'],
  ['version', 'build/src/cli/version.js'],
  ['codec-worker', 'build/src/node/codec-worker.js'],
  ['aws-sdk-client-s3', 'scripts/aws-sdk-client-s3.cjs'],
]) {
  await build({
    entryPoints: [entry],
    outfile: `${OUT}/${name}.js`,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    // zstddec (75 KB of WebAssembly in base64) is loaded only when an image holds zstd clusters.
    external: ['fs-ext', 'zstddec'],
    plugins: [sdkBeside],
    define: { 'import.meta.url': 'importMetaUrl' },
    inject: ['scripts/import-meta-url.js'],
    // Less to parse at every start; names kept, so errors still say FormatError.
    minify: true,
    keepNames: true,
    logLevel: 'warning',
  });
}

// The command: --version answered without parsing the rest (a sixth of `node -e 0`'s time).
writeFileSync(
  `${OUT}/qcow2-stream.js`,
  `#!/usr/bin/env node
'use strict';
if (process.argv[2] === '--version' || process.argv[2] === '-V') require('./version.js').printVersion();
else require('./main.js');
`,
  { mode: 0o755 },
);
