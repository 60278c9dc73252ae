// Reads a zip strictly sequentially from standard input with unzipper's Parse stream and prints name, size
// and CRC-32 of every entry (computed here: unzipper passes stored data through unchecked).
"use strict";
const unzipper = require("unzipper");
const zlib = require("zlib");

const lines = [];
const pending = [];
process.stdin
  .pipe(unzipper.Parse())
  .on("entry", (entry) => {
    let crc = 0;
    let n = 0;
    pending.push(
      new Promise((resolve, reject) => {
        entry.on("data", (chunk) => {
          crc = zlib.crc32(chunk, crc);
          n += chunk.length;
        });
        entry.on("error", reject);
        entry.on("end", () => {
          const name = entry.type === "Directory" && !entry.path.endsWith("/") ? entry.path + "/" : entry.path;
          lines.push(`${name}\t${n}\t${(crc >>> 0).toString(16).padStart(8, "0")}`);
          resolve();
        });
      })
    );
  })
  .on("error", fail)
  .on("close", () => {
    Promise.all(pending)
      .then(() => process.stdout.write(lines.map((l) => l + "\n").join("")))
      .catch(fail);
  });

function fail(err) {
  process.stderr.write(String(err && err.stack ? err.stack : err) + "\n");
  process.exit(1);
}
