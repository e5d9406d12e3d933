"""The migration step as a Lambda function, run once per deploy by the stack (a trigger or custom resource).

The function's environment holds the settings of :class:`services.migrate.MigrateSettings`.
A CloudFormation ``Delete`` does nothing: the schema outlives the step. Any failure raises,
which fails the deploy before the new instances start.
"""

from __future__ import annotations

from typing import Any

from services.migrate import load_settings, run

PHYSICAL_ID = "schema-migration"


def handler(event: dict[str, Any], _context: object) -> dict[str, Any]:
    """Migrate the schema and set up the app role; return the versions (custom resource ``Data``)."""
    if event.get("RequestType") == "Delete":
        return {"PhysicalResourceId": event.get("PhysicalResourceId", PHYSICAL_ID)}
    versions = run(load_settings())
    print(f"schema migrated: {versions}")
    return {"PhysicalResourceId": PHYSICAL_ID, "Data": {name: str(version) for name, version in versions.items()}}
