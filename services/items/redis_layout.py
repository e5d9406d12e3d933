"""How items live in Redis, shared by the API's async tier and the worker's (sync) warming step.

- ``{prefix}item:{key}``: ``b"<version>:<value JSON>"`` with a TTL, written only by
  :data:`SET_IF_NEWER`, so a slow reader can never put back a value older than a write.
- ``{prefix}hot``: a sorted set of item keys scored by reads, trimmed to the hottest N.
- ``{prefix}invalidate``: the pub/sub channel of writes, ``{"key", "version", "node"}``.

Connections: ``rediss://`` URLs use TLS with certificate checks (ElastiCache in-transit
encryption); the AUTH token comes from the URL or is passed separately.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

DEFAULT_PREFIX: Final = "scaled:"
"""The default prefix of every Redis key and channel (``REDIS_PREFIX``)."""

DEFAULT_TTL_SECONDS: Final = 3600
"""The default lifetime of an item copy in Redis (``REDIS_TTL_SECONDS``)."""

SET_IF_NEWER: Final = """
local current = redis.call('GET', KEYS[1])
if current then
  local version = tonumber(string.match(current, '^(%d+):'))
  if version and version > tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. ARGV[2], 'EX', ARGV[3])
return 1
"""
"""Lua: store version ARGV[1] of a value unless a newer version is there; ARGV[3] is the TTL."""

CLIENT_OPTIONS: Final[dict[str, Any]] = {
    "socket_timeout": 0.5,
    "socket_connect_timeout": 1.0,
    "health_check_interval": 15,
}
"""Short timeouts: a slow Redis must not hold up a request that the database can answer."""


@dataclass(frozen=True, slots=True)
class RedisLayout:
    """The key and channel names under one prefix."""

    prefix: str = DEFAULT_PREFIX

    def item(self, key: str) -> str:
        """The Redis key of item ``key``."""
        return f"{self.prefix}item:{key}"

    @property
    def hot(self) -> str:
        """The sorted set of hot item keys."""
        return f"{self.prefix}hot"

    @property
    def channel(self) -> str:
        """The invalidation channel."""
        return f"{self.prefix}invalidate"


def decode_entry(raw: bytes) -> tuple[bytes, int] | None:
    """Split a stored ``b"<version>:<json>"`` into ``(json, version)``; None if malformed."""
    version, sep, value = raw.partition(b":")
    if not sep or not version.isdigit():
        return None
    return value, int(version)


def invalidation_message(key: str, version: int, node: str) -> str:
    """The pub/sub message announcing that ``node`` wrote ``version`` of ``key``."""
    return json.dumps({"key": key, "version": version, "node": node})


def parse_invalidation(data: bytes | str) -> tuple[str, int] | None:
    """``(key, version)`` from an invalidation message; None if it is not one."""
    try:
        message = json.loads(data)
        key, version = message["key"], message["version"]
    except (ValueError, TypeError, KeyError):
        return None
    if not isinstance(key, str) or not isinstance(version, int):
        return None
    return key, version


def connection_options(auth_token: str | None) -> dict[str, Any]:
    """Client options for ``redis.from_url``: timeouts, and the AUTH token if one is given."""
    options = dict(CLIENT_OPTIONS)
    if auth_token:
        options["password"] = auth_token
    return options
