"""The items table on SQLite, PostgreSQL and MariaDB: upserts, versions, byte-exact keys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.db import make_engine
from services.items.store import COMPONENT, ItemStore


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
        pytest.param("mysql", id="mysql", marks=pytest.mark.mysql),
    ]
)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ItemStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'items.db'}"
    else:
        url = request.getfixturevalue(f"{request.param}_url")
    engine = make_engine(url)
    try:
        yield ItemStore(engine)
    finally:
        engine.dispose()


def test_put_creates_then_replaces_with_increasing_versions(store: ItemStore) -> None:
    first, created = store.put("k", '{"a":1}')
    assert created
    assert first.version == 1
    second, created = store.put("k", "[1,2]")
    assert not created
    assert second.version == 2
    found = store.get("k")
    assert found is not None
    assert (found.value, found.version) == ("[1,2]", 2)


def test_missing_keys_are_none(store: ItemStore) -> None:
    assert store.get("nothing") is None
    assert store.get_many(["nothing"]) == {}


def test_keys_compare_byte_for_byte(store: ItemStore) -> None:
    """MySQL's default collation would make these one key; the column's binary collation keeps them apart."""
    keys = ["key", "KEY", "Key", "kéy", "keý", "ключ", "é" * 125]
    for i, key in enumerate(keys):
        assert store.put(key, str(i))[1]
    found = store.get_many([*keys, "absent"])
    assert {key: item.value for key, item in found.items()} == {key: str(i) for i, key in enumerate(keys)}


def test_large_values_fit(store: ItemStore) -> None:
    value = '"' + "x" * (1024 * 1024 - 2) + '"'  # the body limit's worth
    store.put("big", value)
    found = store.get("big")
    assert found is not None
    assert found.value == value


def test_migrating_again_is_a_no_op(store: ItemStore) -> None:
    store.put("k", "1")
    assert store.migrate() == 1
    assert ItemStore(store.engine).get("k") is not None
    with store.engine.connect() as conn:
        version = conn.execute(
            sa.text("SELECT version FROM schema_versions WHERE component = :c"), {"c": COMPONENT}
        ).scalar_one()
    assert version == 1


def test_ping_answers(store: ItemStore) -> None:
    store.ping()
