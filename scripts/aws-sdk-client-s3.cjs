// The AWS SDK's S3 client, bundled for the command line (bundle-cli.mjs) so that S3 works out
// of the box there while the library keeps it an optional peer. CommonJS, as the bundle is.
module.exports = require('@aws-sdk/client-s3');
