"""The CDK context keys for people: defaults per stage, how computed ones follow, what each accepts.

``make settings`` (``python -m stacks.settings``) prints it; ``make docs`` writes it to docs/settings.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from stacks.context import Context, defaults
from stacks.context_types import accepts, shown
from stacks.defaults import default_note


@dataclass(frozen=True)
class KeyReference:
    """One key for people: its default in each stage, how a computed one follows, what it accepts and is."""

    key: str
    dev: str
    prod: str
    note: str
    accepts: str
    description: str


def reference() -> list[KeyReference]:
    """Every key with its dev and prod defaults, what it accepts and its description, in declaration order."""
    dev, prod = defaults("dev"), defaults("prod")
    return [
        KeyReference(
            key=field.alias or name,
            dev=shown(getattr(dev, name)),
            prod=shown(getattr(prod, name)),
            note=default_note(field.alias or name),
            accepts=accepts(field),
            description=field.description or "",
        )
        for name, field in Context.model_fields.items()
    ]


def key_table() -> str:
    """Every context key with its dev and prod defaults and its description, as aligned text."""
    rows = [("key", "dev", "prod", "description")]
    for row in reference():
        note = f"; {row.note}" if row.note else ""
        rows.append((row.key, row.dev, row.prod, f"{row.description}{note} [{row.accepts}]"))
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)) + "  " + row[3]
        for row in rows
    )
