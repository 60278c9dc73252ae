#!/usr/bin/env python3
"""Checks a zip with Python's zipfile: testzip() must find no bad CRC; prints name, size and CRC of each entry
(tab-separated, CRC recomputed from the extracted bytes) so the Rust test can compare them."""
import sys
import zipfile
import zlib

with zipfile.ZipFile(sys.argv[1]) as zf:
    bad = zf.testzip()
    if bad is not None:
        print(f"bad entry: {bad}", file=sys.stderr)
        sys.exit(1)
    out = sys.stdout.buffer
    for info in zf.infolist():
        crc = 0
        size = 0
        with zf.open(info) as f:
            while True:
                chunk = f.read(1 << 20)
                if not chunk:
                    break
                crc = zlib.crc32(chunk, crc)
                size += len(chunk)
        if size != info.file_size or crc != info.CRC:
            print(f"{info.filename}: read {size}/{crc:08x}, header {info.file_size}/{info.CRC:08x}", file=sys.stderr)
            sys.exit(1)
        out.write(f"{info.filename}\t{size}\t{crc:08x}\n".encode("utf-8"))
