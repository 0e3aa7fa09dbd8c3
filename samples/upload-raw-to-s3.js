#!/usr/bin/env node
// Uploads a raw image to S3 as compressed qcow2 in one pass, nothing spooled: data parts go
// up as they are compressed and the header and tables go up last, as part 1.
// Region, credentials and endpoint come from the usual AWS environment (AWS_REGION,
// AWS_ACCESS_KEY_ID, AWS_ENDPOINT_URL for an S3-compatible store, ...).
// Usage: node samples/upload-raw-to-s3.js IN.raw BUCKET KEY
import { openSource, toQcow2HeadLast, uploadHeadLast } from '../build/src/index.js';

const [input, bucket, key] = process.argv.slice(2);
if (!input || !bucket || !key) {
  console.error('usage: upload-raw-to-s3.js IN.raw BUCKET KEY');
  process.exit(2);
}

// scan: false reads the file once: a head-last writer needs no allocation map up front.
const { records } = await openSource(input, { format: 'raw', scan: false });
const length = await uploadHeadLast(toQcow2HeadLast(records, { compress: true }), { bucket, key });
console.log(`s3://${bucket}/${key}: ${length} bytes`);
