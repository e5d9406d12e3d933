"""The app as uvicorn imports it in each worker process: settings, logging and secrets from the environment.

``python -m services.api`` validates the settings first, then has uvicorn call
:func:`app_from_environment` in every worker it starts (``API_WORKERS``); each process reads
its secrets once and starts its own node (caches, Redis and database pools) behind the same
port and ring identity.
"""

from __future__ import annotations

from fastapi import FastAPI

from services.api.app import create_app
from services.api.aws_secrets import resolve_secrets
from services.api.settings import load_settings
from services.logs import configure_logging

FACTORY = "services.api.asgi:app_from_environment"
"""The import string uvicorn is given (with ``factory=True``)."""


def app_from_environment() -> FastAPI:
    """The node's app, configured from the environment (secrets read from Secrets Manager)."""
    settings = load_settings()
    configure_logging("api", level=settings.log_level, json=settings.log_json)
    return create_app(resolve_secrets(settings))
