"""Item keys: what a key may contain, checked before a key is routed, cached or stored.

A key is 1 to 250 characters (memcached's limit; ``API_MAX_KEY_BYTES`` can lower it) from
a URL-safe ASCII set: letters, digits and ``- . _ ~ : @ ! $ & ' ( ) * + , ; =``. Those
are exactly the characters a URL path segment may carry unescaped, so a key is written
in a URL as it is, every byte is one character, and no client or proxy rewrites it.
``.`` and ``..`` are refused: HTTP clients remove such path segments. Keys are
case-sensitive and compared byte for byte.
"""

from __future__ import annotations

import re
from typing import Final


class InvalidKeyError(ValueError):
    """An item key outside the documented character set or length; the message says why."""


KEY_CHARACTERS: Final = "A-Za-z0-9._~:@!$&'()*+,;=-"
"""The allowed characters, as a regular-expression class body."""

KEY_RULES: Final = "1 to 250 bytes of ASCII letters, digits and - . _ ~ : @ ! $ & ' ( ) * + , ; = (not . or ..)"
_KEY: Final = re.compile(f"[{KEY_CHARACTERS}]+")


def key_pattern(max_bytes: int = 250) -> str:
    """The key rule as a JSON-Schema (ECMA-262) pattern, for the OpenAPI document."""
    return f"^(?!\\.\\.?$)[{KEY_CHARACTERS}]{{1,{max_bytes}}}$"


def validate_key(key: str, max_bytes: int = 250) -> str:
    """Return ``key`` if it is a valid item key; raise :class:`InvalidKeyError` saying why not."""
    if 0 < len(key) <= max_bytes and _KEY.fullmatch(key) and key not in (".", ".."):
        return key
    if not key:
        raise InvalidKeyError("key must not be empty")
    size = len(key.encode(errors="surrogatepass"))
    if size > max_bytes:
        raise InvalidKeyError(f"key is {size} bytes long; the limit is {max_bytes} bytes")
    if key in (".", ".."):
        raise InvalidKeyError(f"key {key!r} is not allowed: HTTP clients remove dot segments from paths")
    bad = next(char for char in key if not _KEY.fullmatch(char))
    raise InvalidKeyError(f"key {key!r} contains {bad!r}; keys are {KEY_RULES}")
