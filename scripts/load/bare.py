"""The ratio's baseline: a bare FastAPI endpoint at ``/items/{key}``, served like an API node.

python -m load.bare PORT
"""

from __future__ import annotations

import sys

import uvicorn
from fastapi import FastAPI
from starlette.responses import Response

app = FastAPI()


@app.get("/items/{key}")
async def item(key: str) -> Response:
    """A constant item body: what a cache hit returns, without the work behind it."""
    return Response(b'{"key":"item","value":{"n":1},"version":1,"cache":"local"}', media_type="application/json")


if __name__ == "__main__":
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="error",
    )
