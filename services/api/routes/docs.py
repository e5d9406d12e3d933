"""``/docs`` (Swagger UI) and ``/redoc``, with their scripts served by the node itself.

FastAPI's default pages load Swagger UI and ReDoc from a CDN, so they are blank on a machine
without internet access. These use the copies the pinned ``fastapi-offline`` package ships.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

ASSETS = "/docs-assets"
"""Where the Swagger UI and ReDoc scripts, style sheet and icon are served."""

OAUTH2_REDIRECT = "/docs/oauth2-redirect"


def register(app: FastAPI) -> None:
    """Serve the documentation pages and their assets on ``app`` (created with ``docs_url=None, redoc_url=None``)."""
    directory = Path(str(files("fastapi_offline") / "static"))
    app.include_router(_router(app))
    app.mount(ASSETS, StaticFiles(directory=directory), name="docs-assets")


def _router(app: FastAPI) -> APIRouter:
    docs = APIRouter(include_in_schema=False)

    @docs.get("/docs")
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=OAUTH2_REDIRECT,
            swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS}/favicon.png",
        )

    @docs.get(OAUTH2_REDIRECT)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @docs.get("/redoc")
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS}/favicon.png",
            with_google_fonts=False,
        )

    return docs
