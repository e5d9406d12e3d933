"""The console's own routes: the page, its static files, the event stream and a token.

``GET /_console`` is the page; ``GET /_console/events`` streams a sample of the system as a
server-sent event about once a second (the first at once when one is ready);
``GET /_console/token`` gives the page a bearer token for its ``/items`` and ``/jobs`` calls
(204 when the system runs without auth).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Final

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from services.local.console.collector import Collector
from services.local.console.load import ReadLoad, TokenSource

if TYPE_CHECKING:
    from services.local.cluster import LocalSystem

STATIC: Final = Path(__file__).parent / "static"
PATH: Final = "/_console"


class Console:
    """The console of one local system: its sampler, its read load and its routes."""

    def __init__(self, system: LocalSystem, token_source: TokenSource, *, interval: float = 1.0) -> None:
        self.collector = Collector(system, interval=interval)
        self.load = ReadLoad(system.url, token_source)
        self._token_source = token_source

    async def close(self) -> None:
        """Stop the load and the sampler; open event streams end."""
        await self.load.stop()
        await self.collector.close()

    async def _events(self, _request: Request) -> Response:
        self.collector.start()

        async def stream() -> AsyncIterator[str]:
            yield f"retry: 2000\n: sampling every {self.collector.interval:g} s\n\n"
            after = 0.0
            while (sample := await self.collector.next_sample(after)) is not None:
                after = sample["at"]
                yield f"data: {json.dumps(sample, separators=(',', ':'))}\n\n"

        headers = {"cache-control": "no-store", "x-accel-buffering": "no"}
        return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)

    async def _token(self, _request: Request) -> Response:
        token = self._token_source()
        if token is None:
            return Response(status_code=204, headers={"cache-control": "no-store"})
        return JSONResponse({"token": token}, headers={"cache-control": "no-store"})

    def routes(self) -> list[BaseRoute]:
        """The routes, to mount on the balancer before its proxy."""

        async def page(_request: Request) -> Response:
            return FileResponse(STATIC / "index.html", headers={"cache-control": "no-cache"})

        async def slash(_request: Request) -> Response:
            return RedirectResponse(PATH)

        return [
            Route(PATH, page, methods=["GET"]),
            Route(f"{PATH}/", slash, methods=["GET"]),
            Route(f"{PATH}/events", self._events, methods=["GET"]),
            Route(f"{PATH}/token", self._token, methods=["GET"]),
            Mount(f"{PATH}/static", app=StaticFiles(directory=STATIC), name="console-static"),
        ]
