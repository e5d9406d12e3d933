"""``GET`` and ``PUT /items/{key}``: served here if this node owns the key, else by its owner.

A request for another node's key is forwarded once; a forwarded request is always served
where it lands. If the owner fails, the next node clockwise serves it, and at the end of
the list this node does (the database is shared, so any node can answer correctly).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from json.encoder import encode_basestring_ascii

from fastapi import FastAPI, Request
from starlette.responses import Response

from services.api.errors import InvalidRequestError, NotFoundError
from services.api.forwarding import FORWARDED_HEADER, PeerFailedError
from services.api.items import ItemRead
from services.api.node import Node
from services.api.schemas import ItemIn, ItemOut, ItemWritten, errors
from services.items.keys import KEY_RULES, key_pattern, validate_key

KEY_DESCRIPTION = f"the item key: {KEY_RULES}"
_JSON = "application/json"


def register(app: FastAPI, *, max_key_bytes: int) -> None:
    """Add the item routes to ``app`` (directly: an included router costs every request a lookup)."""
    key = {"type": "string", "pattern": key_pattern(max_key_bytes), "maxLength": max_key_bytes}
    key_parameter = {"name": "key", "in": "path", "required": True, "schema": key, "description": KEY_DESCRIPTION}
    app.add_api_route(
        "/items/{key}",
        get_item,
        methods=["GET"],
        response_model=ItemOut,
        responses=errors(404, 422, 503),
        summary="Read an item (local cache → Redis → database, at the key's owner)",
        tags=["items"],
        # The key is read from the path by the route itself: FastAPI's parameter parsing costs
        # this, the hottest route, a third of its time.
        openapi_extra={"parameters": [key_parameter]},
    )
    app.add_api_route(
        "/items/{key}",
        put_item,
        methods=["PUT"],
        response_model=ItemWritten,
        status_code=200,
        responses={201: {"model": ItemWritten, "description": "created"}, **errors(400, 413, 415, 422, 503)},
        summary="Create (201) or replace (200) an item",
        tags=["items"],
        openapi_extra={"parameters": [key_parameter]},
    )


async def get_item(request: Request) -> Response:
    """Read ``key`` from its owner: ``cache`` tells which tier answered."""
    node: Node = request.app.state.node
    key = validate_key(request.path_params["key"], node.settings.api_max_key_bytes)
    owner = node.owner(key)
    targets = [node.id] if FORWARDED_HEADER in request.headers else node.targets(key, owner, read=True)
    return await _dispatch(node, targets, key, lambda: _read_here(node, key, owner), "GET")


async def put_item(body: ItemIn, request: Request) -> Response:
    """Write ``key`` at its owner: the database first, then the caches; other copies are invalidated."""
    node: Node = request.app.state.node
    key = validate_key(request.path_params["key"], node.settings.api_max_key_bytes)
    try:
        value = json.dumps(body.value, separators=(",", ":"), allow_nan=False)
    except ValueError:
        raise InvalidRequestError("value must be JSON: NaN and Infinity are not allowed") from None
    owner = node.owner(key)
    targets = [node.id] if FORWARDED_HEADER in request.headers else node.targets(key, owner, read=False)
    forwarded_body = b'{"value":' + value.encode() + b"}" if len(targets) > 1 else None  # only this node: no forward
    return await _dispatch(node, targets, key, lambda: _write_here(node, key, value, owner), "PUT", forwarded_body)


async def _dispatch(
    node: Node,
    targets: list[str],
    key: str,
    here: Callable[[], Awaitable[Response]],
    method: str,
    body: bytes | None = None,
) -> Response:
    """Try ``targets`` in order: a peer gets the request forwarded once; this node serves it with ``here``."""
    for target in targets:
        if target == node.id:
            return await here()
        try:
            answer = await node.forwarder.send(target, method, key, body)
        except PeerFailedError:
            node.peer_failed()
            continue
        headers = {"location": _location(key)} if answer.status == 201 else None
        return Response(answer.body, answer.status, headers=headers, media_type=answer.content_type)
    raise AssertionError("unreachable: the last target is this node")


async def _read_here(node: Node, key: str, owner: str) -> Response:
    found = node.items.read_cached(key)
    if found is None:
        loads = node.forwarder.in_flight
        loads[node.id] += 1
        try:
            found = await node.items.read(key, keep_local=node.keep_local(owner))
        finally:
            loads[node.id] -= 1
        if found is None:
            raise NotFoundError(f"item {key!r} not found")
    return Response(_item_json(key, found, owner, node.id), media_type=_JSON)


async def _write_here(node: Node, key: str, value: str, owner: str) -> Response:
    stored, created = await node.items.write(key, value, keep_local=node.keep_local(owner))
    body = b"".join(
        (
            b'{"key":',
            encode_basestring_ascii(key).encode(),
            b',"value":',
            stored.value.encode(),
            b',"version":%d,"owner":' % stored.version,
            _member_json(owner),
            b',"served_by":',
            _member_json(node.id),
            b"}",
        )
    )
    if created:
        return Response(body, 201, headers={"location": _location(key)}, media_type=_JSON)
    return Response(body, 200, media_type=_JSON)


def _location(key: str) -> str:
    return f"/items/{key}"  # keys are made of characters a path may hold unescaped


@functools.lru_cache(maxsize=1024)
def _member_json(member: str) -> bytes:
    return json.dumps(member).encode()


def _item_json(key: str, item: ItemRead, owner: str, node_id: str) -> bytes:
    # Built from bytes: the value is cached as its JSON, so a hit serialises nothing but the key.
    return b"".join(
        (
            b'{"key":',
            encode_basestring_ascii(key).encode(),
            b',"value":',
            item.value,
            b',"version":%d,"owner":' % item.version,
            _member_json(owner),
            b',"served_by":',
            _member_json(node_id),
            b',"cache":"',
            item.tier.encode(),
            b'"}',
        )
    )
