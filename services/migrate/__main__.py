"""``python -m services.migrate [--check]``: migrate the schema and set up the app role (see ``--help``)."""

from __future__ import annotations

import argparse
import sys

from sqlalchemy.exc import SQLAlchemyError

from services.db import DatabaseURLError, SchemaVersionError
from services.db_tls import TLSConfigError
from services.migrate import AppRoleError, SettingsError, load_settings, run
from services.secrets import SecretError
from services.settings import env_names


def _parser() -> argparse.ArgumentParser:
    from services.migrate import MigrateSettings

    names = env_names(MigrateSettings)
    settings = "\n".join(
        f"  {names[name]:28} {field.description}" for name, field in MigrateSettings.model_fields.items()
    )
    parser = argparse.ArgumentParser(
        prog="python -m services.migrate",
        description="Bring the database schema up to date (under the migration lock) as the master user, "
        "and create or update the application role with DML rights on the application's tables.",
        epilog="settings (environment variables):\n" + settings,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a migration is due")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the step; return the exit status (0 done, 1 failed or due with --check, 2 bad settings)."""
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"migrate: {error}", file=sys.stderr)
        return 2
    try:
        versions = run(settings, check=args.check)
    except (SecretError, AppRoleError, SchemaVersionError, TLSConfigError, DatabaseURLError, SQLAlchemyError) as error:
        print(f"migrate: {str(error).splitlines()[0]}", file=sys.stderr)
        return 1
    state = ", ".join(f"{name} v{version}" for name, version in versions.items())
    print(f"migrate: schema {'is current' if args.check else 'migrated'}: {state}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
