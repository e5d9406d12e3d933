"""Request body limit: a body larger than ``API_MAX_BODY_BYTES`` is refused with 413.

A declared ``Content-Length`` over the limit is refused before anything is read; a body
without one (chunked) is read up to the limit and then refused, so no request can make a
node buffer more than the limit. (FastAPI's own ``max_body_size`` answers in plain text
when a route does not read the body, and wraps every request, GETs included: this one
answers with the standard error body and lets GET and HEAD through untouched.)
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.api.errors import BodyTooLargeError, error_body


class BodyLimitMiddleware:
    """Pure ASGI middleware enforcing ``max_bytes`` on every request body."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                if value.isdigit() and int(value) <= self.max_bytes:
                    await self.app(scope, receive, send)
                else:
                    await self._refuse(send)
                return
        # No declared length: read the body here, within the limit, and replay it.
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send) -> None:
        body = error_body(BodyTooLargeError.code, f"request body exceeds the limit of {self.max_bytes} bytes")
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
