"""Consistent-hash routing: which web node owns a key.

``HashRing`` is the ring every web node builds from the same sorted member list, so all
nodes agree on a key's owner; ``EmptyRingError`` is what lookups raise on an empty ring.
"""

from services.routing.hashing import HashFunction, xxh3_64
from services.routing.ring import DEFAULT_VNODES, EmptyRingError, HashRing

__all__ = ["DEFAULT_VNODES", "EmptyRingError", "HashFunction", "HashRing", "xxh3_64"]
