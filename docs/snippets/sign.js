#!/usr/bin/env node
// Make a zipper download link path (see docs/signing.md). Node.js 16+, standard library only.
//
// Usage: node sign.js SECRET KEY_ID CALLBACK_URL FILENAME
// Prints /{key_id}/{callback}/{signature}/{filename}; prefix it with zipper's base URL.
'use strict';

const crypto = require('crypto');

// Percent-encodes every byte outside A-Za-z0-9-._~ (encodeURIComponent alone leaves !'()* as they are,
// which zipper also accepts).
function encodeSegment(text) {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase(),
  );
}

function zipperLinkPath(secret, keyId, callback, filename) {
  // The signature covers the callback URL itself (timestamp included), not its encoded form.
  const signature = crypto.createHmac('sha256', secret).update(callback, 'utf8').digest('base64url');
  return `/${encodeSegment(keyId)}/${encodeSegment(callback)}/${signature}/${encodeSegment(filename)}`;
}

module.exports = { encodeSegment, zipperLinkPath };

if (require.main === module) {
  const args = process.argv.slice(2);
  if (args.length !== 4) {
    console.error('usage: node sign.js SECRET KEY_ID CALLBACK_URL FILENAME');
    process.exit(2);
  }
  console.log(zipperLinkPath(...args));
}
