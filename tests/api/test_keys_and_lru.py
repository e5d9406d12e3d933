"""Key rules and the local LRU, checked by hand: bounds, expiry, versions."""

from __future__ import annotations

import re

import pytest

from services.api.lru import ENTRY_OVERHEAD, LRUCache
from services.items.keys import InvalidKeyError, key_pattern, validate_key


@pytest.mark.parametrize("key", ["a", "user:42", "Ab-_.~:@+=,!$&'()*;", "a.b", "...", "x" * 250])
def test_valid_keys_pass_unchanged(key: str) -> None:
    assert validate_key(key) == key


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("", "empty"),
        ("x" * 251, "251 bytes"),
        ("é" * 126, "252 bytes"),  # 126 characters, but 2 bytes each
        ("é", "contains 'é'"),
        ("ключ", "contains 'к'"),
        ("a b", "contains ' '"),
        ("a\tb", "contains '\\t'"),
        ("a\x00", "contains '\\x00'"),
        ("a/b", "contains '/'"),
        ("a?b", "contains '?'"),
        ("a#b", "contains '#'"),
        ("a%b", "contains '%'"),
        ("a\\b", "contains '\\\\'"),
        (".", "dot segments"),
        ("..", "dot segments"),
        ("\ud800", "contains '\\ud800'"),
        ("a[b]", "contains '['"),
        ('a"b', "contains '\"'"),
    ],
)
def test_invalid_keys_are_refused_with_the_reason(key: str, reason: str) -> None:
    with pytest.raises(InvalidKeyError) as caught:
        validate_key(key)
    assert reason in str(caught.value)


def test_the_documented_pattern_says_the_same() -> None:
    pattern = re.compile(key_pattern(250))
    for key in ["a", "user:42", "x" * 250, "...", "a.b"]:
        assert pattern.fullmatch(key)
    for key in ["", ".", "..", "x" * 251, "a b", "é", "a/b"]:
        assert not pattern.fullmatch(key)


def test_the_key_limit_can_be_lowered() -> None:
    validate_key("x" * 10, max_bytes=10)
    with pytest.raises(InvalidKeyError, match="11 bytes long; the limit is 10"):
        validate_key("x" * 11, max_bytes=10)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_lru_evicts_the_least_recently_used_beyond_max_entries() -> None:
    cache = LRUCache(max_entries=2, max_bytes=10**6, ttl=60)
    cache.put("a", b"1", 1)
    cache.put("b", b"2", 1)
    assert cache.get("a") is not None  # a is now more recent than b
    cache.put("c", b"3", 1)
    assert list(cache) == ["a", "c"]
    assert cache.evictions == 1


def test_lru_is_bounded_by_bytes() -> None:
    size = len("k0") + 100 + ENTRY_OVERHEAD
    cache = LRUCache(max_entries=100, max_bytes=3 * size, ttl=60)
    for i in range(5):
        cache.put(f"k{i}", b"x" * 100, 1)
    assert list(cache) == ["k2", "k3", "k4"]
    assert cache.bytes == 3 * size
    assert not cache.put("big", b"x" * (3 * size), 1)  # larger than the whole cache: not stored
    assert "big" not in cache
    cache.discard("k2")
    assert cache.bytes == 2 * size
    cache.put("k3", b"x" * 10, 2)  # a replacement is charged its own size, not the old one's
    assert cache.bytes == 2 * size - 90
    cache.clear()
    assert (len(cache), cache.bytes) == (0, 0)


def test_lru_entries_expire_after_the_ttl() -> None:
    clock = Clock()
    cache = LRUCache(max_entries=10, max_bytes=10**6, ttl=5, clock=clock)
    cache.put("a", b"1", 1)
    clock.now = 4.9
    assert cache.get("a") is not None
    clock.now = 5.0
    assert cache.get("a") is None
    assert len(cache) == 0
    assert cache.bytes == 0


def test_lru_never_replaces_a_newer_version_with_an_older_one() -> None:
    cache = LRUCache(max_entries=10, max_bytes=10**6, ttl=60)
    assert cache.put("a", b"new", 3)
    assert not cache.put("a", b"old", 2)
    assert cache.get("a").value == b"new"  # type: ignore[union-attr]
    assert cache.put("a", b"same", 3)  # an equal version refreshes the entry


def test_lru_retain_drops_what_fails_the_test() -> None:
    cache = LRUCache(max_entries=10, max_bytes=10**6, ttl=60)
    for key in "abcd":
        cache.put(key, b"1", 1)
    assert cache.retain(lambda key: key in "bd") == 2
    assert list(cache) == ["b", "d"]
