"""Dependencies of the routes that are not hot (operations, jobs): the node, a JSON body.

The item routes read the node from ``request.app.state`` themselves: FastAPI's dependency
resolution costs the hottest route a measurable share of its time (``make bench``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.api.errors import NOT_JSON_MESSAGE, UnsupportedMediaTypeError, is_json
from services.api.node import Node


async def current_node(request: Request) -> Node:
    """The node serving this app (started in the app's lifespan). Async: FastAPI would run a
    plain function in a worker thread, which costs more than the whole health check."""
    node: Node = request.app.state.node
    return node


CurrentNode = Annotated[Node, Depends(current_node)]
"""A route parameter receiving the node."""


async def json_body(request: Request) -> bytes:
    """The request body, refused with 415 when its Content-Type names something other than JSON.

    A body without a Content-Type is taken as JSON, as on ``PUT /items/{key}``.
    """
    content_type = request.headers.get("content-type")
    if content_type and not is_json(content_type):
        raise UnsupportedMediaTypeError(NOT_JSON_MESSAGE)
    return await request.body()


JsonBody = Annotated[bytes, Depends(json_body)]
"""A route parameter receiving the raw JSON body (validated by the route against its own schema)."""
