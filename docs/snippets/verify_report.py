#!/usr/bin/env python3
"""Check that a completion report comes from zipper (see docs/reports.md). Python 3.7+, standard library.

Usage: python3 verify_report.py SECRET X_ZIPPER_TIME X_ZIPPER_SIGNATURE BODY_FILE [NOW]
Prints "authentic" and exits 0, or prints "REJECTED" and exits 1. NOW (unix seconds) defaults to the clock.
"""
import base64
import hashlib
import hmac
import sys
import time


def zipper_report_is_authentic(secret, time_header, signature, body, now=None, max_skew=300):
    """body: the raw request body (bytes), exactly as received, before any JSON parsing."""
    if not (time_header.isascii() and time_header.isdigit()):
        return False
    now = int(time.time()) if now is None else now
    if abs(now - int(time_header)) > max_skew:
        return False  # a replayed or badly delayed report
    mac = hmac.new(secret.encode(), time_header.encode() + b"\n" + body, hashlib.sha256).digest()
    expected = base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    return hmac.compare_digest(expected, signature)


if __name__ == "__main__":
    if len(sys.argv) not in (5, 6):
        sys.exit(__doc__)
    secret, time_header, signature, path = sys.argv[1:5]
    now = int(sys.argv[5]) if len(sys.argv) == 6 else None
    with open(path, "rb") as f:
        body = f.read()
    ok = zipper_report_is_authentic(secret, time_header, signature, body, now)
    print("authentic" if ok else "REJECTED")
    sys.exit(0 if ok else 1)
