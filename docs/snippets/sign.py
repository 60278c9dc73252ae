#!/usr/bin/env python3
"""Make a zipper download link path (see docs/signing.md). Python 3.7+, standard library only.

Usage: python3 sign.py SECRET KEY_ID CALLBACK_URL FILENAME
Prints /{key_id}/{callback}/{signature}/{filename}; prefix it with zipper's base URL.
"""
import base64
import hashlib
import hmac
import sys
from urllib.parse import quote


def encode_segment(text: str) -> str:
    """Percent-encodes every byte outside A-Za-z0-9-._~ (quote's safe set when safe="")."""
    return quote(text, safe="")


def zipper_link_path(secret: str, key_id: str, callback: str, filename: str) -> str:
    # The signature covers the callback URL itself (timestamp included), not its encoded form.
    mac = hmac.new(secret.encode("utf-8"), callback.encode("utf-8"), hashlib.sha256).digest()
    signature = base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")
    return "/{}/{}/{}/{}".format(
        encode_segment(key_id), encode_segment(callback), signature, encode_segment(filename)
    )


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    print(zipper_link_path(*sys.argv[1:]))
