"""``python -m services.api``: run one API node (uvicorn with uvloop and httptools).

Settings come from the environment; ``--help`` lists them. Secrets named by
``DATABASE_SECRET_ARN`` / ``REDIS_AUTH_SECRET_ARN`` are read from Secrets Manager at start.
``API_WORKERS`` processes (``auto``: one per CPU) serve the port, each built by
:func:`services.api.asgi.app_from_environment`.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap

from services.api.settings import SettingsError, load_settings, settings_table
from services.jobs.types import load_job_types


def _help_epilog() -> str:
    rows = settings_table()
    width = max(len(name) for name, _, _ in rows)
    lines = ["settings (environment variables):"]
    for name, default, description in rows:
        text = f"{description} [default: {default}]"
        wrapped = textwrap.wrap(text, 100 - width - 4) or [""]
        lines.append(f"  {name:<{width}}  {wrapped[0]}")
        lines.extend(f"  {'':<{width}}  {more}" for more in wrapped[1:])
    return "\n".join(lines)


def _shown(name: str, value: object) -> object:
    """A setting as ``--check`` prints it: tokens masked, the password of a URL masked."""
    if name.endswith("_token") and value is not None:
        return "***"
    if name.endswith("_url") and isinstance(value, str):
        return masked_url(value)
    return value


def masked_url(url: str) -> str:
    """``url`` as written, but with its password (if any) replaced by ``***``.

    Only the password changes: ``sqlite:///relative.db`` keeps its three slashes and
    ``postgresql://app:secret@db/items`` its user (``postgresql://app:***@db/items``).
    """
    scheme, separator, rest = url.partition("://")
    if not separator:
        return url
    authority, slash, path = rest.partition("/")
    userinfo, at, host = authority.rpartition("@")
    if not at:
        return url
    user, colon, _password = userinfo.partition(":")
    return f"{scheme}://{user}{':***' if colon else ''}@{host}{slash}{path}"


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, read the settings and serve until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(
        prog="python -m services.api",
        description="Run one API node: items routed by consistent hashing, cache-aside reads, jobs, "
        "health, ring and metrics endpoints. OpenAPI docs at /docs.",
        epilog=_help_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--check", action="store_true", help="validate the settings, print them and exit")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        load_job_types(settings.type_modules)  # fail here, once, rather than in every worker process
    except (SettingsError, ImportError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.check:
        lines = [f"{name.upper()}={_shown(name, value)}" for name, value in settings.model_dump(mode="json").items()]
        lines.append(f"node id: {settings.node_id()}")
        try:
            print("\n".join(lines), flush=True)
        except BrokenPipeError:  # piped to a reader that stopped early (`| head`): not an error
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
        return 0

    import uvicorn

    from services.api.asgi import FACTORY
    from services.api.aws_secrets import SecretError, resolve_secrets
    from services.logs import configure_logging

    configure_logging("api", level=settings.log_level, json=settings.log_json)
    try:
        resolve_secrets(settings)  # fail here, once, rather than in every worker process
    except SecretError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    uvicorn.run(
        FACTORY,
        factory=True,
        workers=settings.worker_count(),
        host=settings.api_host,
        port=settings.api_port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_config=None,
        server_header=False,
        timeout_keep_alive=int(settings.api_keepalive_seconds),
        timeout_graceful_shutdown=10,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
