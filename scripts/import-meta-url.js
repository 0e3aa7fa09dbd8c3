// Injected into the CommonJS bundle of the command line (bundle-cli.mjs) as `import.meta.url`.
export const importMetaUrl = require('node:url').pathToFileURL(__filename).href;
