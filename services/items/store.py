"""The items table: the source of truth behind the caches (SQLAlchemy Core).

The API reads and writes items here; the worker's warming step reads the hottest ones.

One row per key: the value as canonical JSON text, and a version that increases with every
write, so caches can refuse to overwrite a newer value with an older one. Keys compare byte
for byte on every backend (a binary collation on MySQL, whose default ignores case).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Final

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite

from services.db import Migration, check_schema, migrate

COMPONENT: Final = "items"
"""This store's name in ``schema_versions``."""

MAX_KEY_CHARS: Final = 250

metadata = sa.MetaData()

items = sa.Table(
    "items",
    metadata,
    sa.Column(
        "key",
        sa.String(MAX_KEY_CHARS).with_variant(
            mysql.VARCHAR(MAX_KEY_CHARS, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
        ),
        primary_key=True,
    ),
    sa.Column("value", sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb"), nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
)


def _create_items(conn: sa.Connection) -> None:
    items.create(conn, checkfirst=True)


MIGRATIONS: Final[list[Migration]] = [_create_items]

_BATCH: Final = 500


@dataclass(frozen=True, slots=True)
class StoredItem:
    """One item as the database holds it: ``value`` is JSON text."""

    key: str
    value: str
    version: int


class ItemStore:
    """Items in a SQL database (SQLite, PostgreSQL or MySQL). Thread-safe; calls block.

    The engine belongs to the caller; unless ``migrate=False`` the schema is brought up to
    date (idempotent, under the cross-process migration lock).
    """

    def __init__(self, engine: sa.Engine, *, migrate: bool = True) -> None:
        self.engine = engine
        self._dialect = engine.dialect.name
        if migrate:
            self.migrate()

    def migrate(self) -> int:
        """Create or upgrade the items table; return the schema version."""
        return migrate(self.engine, COMPONENT, MIGRATIONS)

    def check_schema(self) -> int:
        """The items schema version; ``SchemaVersionError`` unless it is this code's (nothing is changed)."""
        return check_schema(self.engine, COMPONENT, MIGRATIONS)

    def get(self, key: str) -> StoredItem | None:
        """The item stored under ``key``, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(items.c.value, items.c.version).where(items.c.key == key)).first()
        return None if row is None else StoredItem(key, row.value, row.version)

    def get_many(self, keys: Collection[str]) -> dict[str, StoredItem]:
        """The items stored under ``keys`` (missing keys are left out)."""
        found: dict[str, StoredItem] = {}
        wanted = list(dict.fromkeys(keys))
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), _BATCH):
                chunk = wanted[start : start + _BATCH]
                rows = conn.execute(sa.select(items).where(items.c.key.in_(chunk)))
                found.update((row.key, StoredItem(row.key, row.value, row.version)) for row in rows)
        return found

    def put(self, key: str, value: str) -> tuple[StoredItem, bool]:
        """Store JSON text ``value`` under ``key`` (one atomic upsert); return the item and whether it is new."""
        with self.engine.begin() as conn:
            if self._dialect == "mysql":
                upsert = mysql.insert(items).values(key=key, value=value, version=1)
                result = conn.execute(
                    upsert.on_duplicate_key_update(value=upsert.inserted.value, version=items.c.version + 1)
                )
                version = conn.execute(sa.select(items.c.version).where(items.c.key == key)).scalar_one()
                return StoredItem(key, value, version), result.rowcount == 1
            insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
            stmt = insert(items).values(key=key, value=value, version=1)
            stmt = stmt.on_conflict_do_update(
                index_elements=[items.c.key], set_={"value": stmt.excluded.value, "version": items.c.version + 1}
            )
            version = conn.execute(stmt.returning(items.c.version)).scalar_one()
        # Items are never deleted, so version 1 is the write that created the row.
        return StoredItem(key, value, version), version == 1

    def ping(self) -> None:
        """Run ``SELECT 1``; raises ``SQLAlchemyError`` if the database cannot answer."""
        with self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
