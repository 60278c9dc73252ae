"""Reads a zip strictly sequentially from standard input with stream-unzip (PyPI) and prints name, size and
CRC-32 of every entry. stream-unzip checks each entry's CRC-32 and size itself."""
import sys
import zlib

from stream_unzip import stream_unzip


def chunks():
    while True:
        block = sys.stdin.buffer.read(65536)
        if not block:
            return
        yield block


def main():
    out = []
    for name, _size, data in stream_unzip(chunks()):
        crc, n = 0, 0
        for part in data:
            crc = zlib.crc32(part, crc)
            n += len(part)
        out.append(f"{name.decode('utf-8')}\t{n}\t{crc:08x}")
    sys.stdout.buffer.write(("\n".join(out) + "\n").encode("utf-8") if out else b"")


if __name__ == "__main__":
    main()
