"""Opaque Relay cursors for the category page.

A cursor is the position after which the next page starts, base64url-encoded with a
version prefix, so clients treat it as opaque and we can change it later.
"""

from __future__ import annotations

import base64
import binascii

from resolvers.errors import BadUserInput

_PREFIX = "pgw1:"


def encode_cursor(position: int) -> str:
    raw = f"{_PREFIX}{position}".encode("ascii")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str, *, argument: str = "after") -> int:
    """The position encoded in ``cursor``; BAD_USER_INPUT naming the argument otherwise."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii")
    except (binascii.Error, UnicodeError, ValueError):
        text = ""
    if text.startswith(_PREFIX) and text[len(_PREFIX) :].isdigit():
        return int(text[len(_PREFIX) :])
    raise BadUserInput(
        f"Argument '{argument}' is not a cursor this API issued; pass an endCursor from a "
        "previous page, or omit it to start at the beginning.",
        argument=argument,
    )
