"""Errors as ``{"error": {"code", "message"}}``, and the one place exceptions become statuses.

A client's mistake is a 4xx naming the problem; a dependency that is down is a 503 naming
it; anything else is a 500 whose details go to the log, not to the client.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any, ClassVar, Final

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import compile_path

from services.items.keys import InvalidKeyError

_log = structlog.get_logger(__name__)

NOT_JSON_MESSAGE: Final = "the request body must be JSON (application/json)"

_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    503: "unavailable",
}


class ApiError(Exception):
    """An error with its HTTP status and a stable machine-readable code."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class MalformedJSONError(ApiError):
    """The request body is not JSON."""

    status = 400
    code = "malformed_json"


class NotFoundError(ApiError):
    """No such item, job or route."""

    status = 404
    code = "not_found"


class ConflictError(ApiError):
    """The request conflicts with what exists (an idempotency key reused for another job)."""

    status = 409
    code = "conflict"


class BodyTooLargeError(ApiError):
    """The request body exceeds ``API_MAX_BODY_BYTES``."""

    status = 413
    code = "body_too_large"


class UnsupportedMediaTypeError(ApiError):
    """The request body is not JSON (its Content-Type names another media type)."""

    status = 415
    code = "unsupported_media_type"


class InvalidRequestError(ApiError):
    """The body or a parameter is well-formed but not acceptable."""

    status = 422
    code = "invalid_request"


class UnavailableError(ApiError):
    """A dependency (database, queue) cannot serve the request now."""

    status = 503
    code = "unavailable"


def error_body(code: str, message: str, **details: Any) -> bytes:
    """The JSON bytes of an error response."""
    return json.dumps({"error": {"code": code, "message": message, **details}}).encode()


def error_response(status: int, code: str, message: str, **details: Any) -> Response:
    """An error response with the standard body."""
    return Response(error_body(code, message, **details), status_code=status, media_type="application/json")


def install_error_handlers(app: FastAPI) -> None:
    """Map every exception the app can raise to the standard error body."""

    async def api_error(_request: Request, error: Exception) -> Response:
        assert isinstance(error, ApiError)
        return error_response(error.status, error.code, error.message, **error.details)

    async def invalid_key(_request: Request, error: Exception) -> Response:
        return error_response(InvalidRequestError.status, "invalid_key", str(error))

    async def http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, StarletteHTTPException)
        status = error.status_code
        message = error.detail if isinstance(error.detail, str) else str(error.detail)
        if status == 404 and message == "Not Found":
            message = f"no route for {request.method} {request.url.path}"
        elif status == 405:
            message = f"method {request.method} is not allowed on {request.url.path}"
        response = error_response(status, _CODES.get(status, f"http_{status}"), message)
        if error.headers:
            response.headers.update(error.headers)
        if status == 405:
            # Starlette names the methods of the first route that matched the path only; a path
            # served by several routes (GET and PUT /items/{key}) allows the methods of all of them.
            allowed = allowed_methods(request.app, request.scope["path"])
            if allowed:
                response.headers["allow"] = ", ".join(allowed)
        return response

    async def validation_error(_request: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        problems = list(error.errors())
        if any(item.get("type") == "json_invalid" for item in problems):
            return error_response(400, MalformedJSONError.code, "request body is not valid JSON")
        if any(item.get("loc", ())[:1] == ("body",) and isinstance(item.get("input"), bytes) for item in problems):
            return error_response(415, UnsupportedMediaTypeError.code, NOT_JSON_MESSAGE)
        return error_response(422, InvalidRequestError.code, "; ".join(_describe(item) for item in problems))

    async def database_error(request: Request, error: Exception) -> Response:
        _log.warning("database error", path=request.url.path, error=str(error).splitlines()[0])
        return error_response(503, "database_unavailable", "the database cannot be reached; try again")

    async def unexpected(request: Request, error: Exception) -> Response:
        _log.error("unhandled error", path=request.url.path, exc_info=error)
        return error_response(500, "internal", "internal error; see the server log")

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(InvalidKeyError, invalid_key)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(SQLAlchemyError, database_error)
    app.add_exception_handler(Exception, unexpected)


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """The methods the OpenAPI document lists for the operations whose path template matches ``path``."""
    methods: set[str] = set()
    for template, operations in app.openapi().get("paths", {}).items():
        if _template_regex(template).match(path):
            methods.update(method.upper() for method in operations if method.upper() in _HTTP_METHODS)
    return sorted(methods)


_HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"})


@functools.lru_cache(maxsize=64)
def _template_regex(template: str) -> re.Pattern[str]:
    return compile_path(template)[0]


def is_json(content_type: str) -> bool:
    """Whether a Content-Type header names JSON: ``application/json`` or ``application/*+json``."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def _describe(item: Any) -> str:
    location = ".".join(str(part) for part in item.get("loc", ()) if part != "body") or "body"
    return f"{location}: {item.get('msg', 'invalid')}"
