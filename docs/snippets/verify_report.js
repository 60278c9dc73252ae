// Check that a completion report comes from zipper (see docs/reports.md). Node.js 16+, no dependencies.
//
// Usage: node verify_report.js SECRET X_ZIPPER_TIME X_ZIPPER_SIGNATURE BODY_FILE [NOW]
// Prints "authentic" and exits 0, or prints "REJECTED" and exits 1. NOW (unix seconds) defaults to the clock.
"use strict";
const crypto = require("crypto");
const fs = require("fs");

// body: the raw request body (a Buffer), exactly as received, before any JSON parsing.
function zipperReportIsAuthentic(secret, timeHeader, signature, body,
                                 now = Math.floor(Date.now() / 1000), maxSkew = 300) {
  if (!/^[0-9]+$/.test(timeHeader)) return false;
  if (Math.abs(now - Number(timeHeader)) > maxSkew) return false; // replayed or badly delayed
  const expected = crypto.createHmac("sha256", secret)
    .update(timeHeader + "\n").update(body).digest("base64url");
  const a = Buffer.from(expected);
  const b = Buffer.from(String(signature));
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

if (require.main === module) {
  const args = process.argv.slice(2);
  if (args.length !== 4 && args.length !== 5) {
    console.error("usage: node verify_report.js SECRET X_ZIPPER_TIME X_ZIPPER_SIGNATURE BODY_FILE [NOW]");
    process.exit(2);
  }
  const [secret, timeHeader, signature, path, now] = args;
  const body = fs.readFileSync(path);
  const ok = now === undefined
    ? zipperReportIsAuthentic(secret, timeHeader, signature, body)
    : zipperReportIsAuthentic(secret, timeHeader, signature, body, Number(now));
  console.log(ok ? "authentic" : "REJECTED");
  process.exit(ok ? 0 : 1);
}

module.exports = { zipperReportIsAuthentic };
