// Reads a zip with yauzl (central directory, random access) and prints name, size and CRC-32 of every
// entry. yauzl checks sizes (validateEntrySizes) but not CRCs: they are compared with the central directory here.
"use strict";
const yauzl = require("yauzl");
const zlib = require("zlib");

const lines = [];
yauzl.open(process.argv[2], { lazyEntries: true, validateEntrySizes: true, decodeStrings: true }, (err, zip) => {
  if (err) fail(err);
  zip.on("error", fail);
  zip.on("end", () => process.stdout.write(lines.map((l) => l + "\n").join("")));
  zip.on("entry", (entry) => {
    zip.openReadStream(entry, (err, stream) => {
      if (err) fail(err);
      let crc = 0;
      let n = 0;
      stream.on("data", (chunk) => {
        crc = zlib.crc32(chunk, crc);
        n += chunk.length;
      });
      stream.on("error", fail);
      stream.on("end", () => {
        if (crc !== entry.crc32) fail(new Error(`${entry.fileName}: CRC ${hex(crc)}, directory ${hex(entry.crc32)}`));
        lines.push(`${entry.fileName}\t${n}\t${hex(crc)}`);
        zip.readEntry();
      });
    });
  });
  zip.readEntry();
});

function hex(v) {
  return (v >>> 0).toString(16).padStart(8, "0");
}

function fail(err) {
  process.stderr.write(String(err && err.stack ? err.stack : err) + "\n");
  process.exit(1);
}
