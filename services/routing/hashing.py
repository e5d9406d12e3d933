"""The ring's hash function: fixed, documented, identical on every machine.

Every node of a fleet must compute the same owner for a key, so the hash can never be
Python's ``hash()`` (salted per process). The default is XXH3-64 with seed 0 over the
UTF-8 bytes of the key, a fast C implementation from the ``xxhash`` package.
"""

from collections.abc import Callable
from typing import Final

import xxhash

HashFunction = Callable[[bytes], int]
"""Maps bytes to an integer in ``[0, 2**64)``."""

RING_BITS: Final = 64
RING_SIZE: Final = 1 << RING_BITS

xxh3_64: HashFunction = xxhash.xxh3_64_intdigest
"""The default hash: XXH3-64, seed 0."""


def to_bytes(key: str | bytes) -> bytes:
    """Return the bytes a key is hashed as: UTF-8 for ``str``, unchanged for ``bytes``."""
    if isinstance(key, str):
        return key.encode()
    if isinstance(key, bytes):
        return key
    raise TypeError(f"key must be str or bytes, not {type(key).__name__}")
