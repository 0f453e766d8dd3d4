"""Serving the browser pages' own static files (HTML, JS, CSS), never anything from a CDN.

Pages load scripts only from this origin; the Content-Security-Policy says so to the browser.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from infra.auth import PublicCaller
from infra.errors import NotFoundError

__all__ = ["PAGE_HEADERS", "page_router", "static_file"]

_MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",  # the pages' string catalogues
    ".LICENSE": "text/plain; charset=utf-8",
}

#: Security headers for every page and static file: same-origin scripts, camera for us only.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "Permissions-Policy": "camera=(self), microphone=(self)",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def static_file(directory: Path, name: str) -> FileResponse:
    """A file from ``directory`` by relative name, refusing anything outside it.

    Raises:
        NotFoundError: unknown file, unknown type or a path leaving ``directory``.
    """
    root = directory.resolve()
    try:
        path = (root / name).resolve()
        found = path.is_relative_to(root) and path.is_file()
    except (ValueError, OSError):  # NUL bytes, overlong names
        found = False
    media_type = _MEDIA_TYPES.get(path.suffix) if found else None
    if media_type is None:
        raise NotFoundError("no such page file", code="not_found")
    return FileResponse(path, media_type=media_type, headers=PAGE_HEADERS)


def page_router(
    *, path: str, page: str, directory: Path, page_doc: str, files_doc: str
) -> APIRouter:
    """Public routes for one browser page: ``path`` serves ``page``, ``path/static/...`` the
    page's own files from ``directory``. The pages hold no data; every data call they make
    goes to the API with the user's own credential.
    """
    router = APIRouter()

    def serve_page(caller: PublicCaller) -> FileResponse:
        return static_file(directory, page)

    def serve_file(name: str, caller: PublicCaller) -> FileResponse:
        return static_file(directory, name)

    for handler, doc in ((serve_page, page_doc), (serve_file, files_doc)):
        handler.__doc__ = doc
    stem = path.strip("/")  # route names (and so operation ids): ``capture_page``, ...
    router.add_api_route(
        path,
        serve_page,
        name=f"{stem}_page",
        methods=["GET"],
        tags=["public"],
        response_class=FileResponse,
    )
    router.add_api_route(
        f"{path}/static/{{name:path}}",
        serve_file,
        name=f"{stem}_static",
        methods=["GET"],
        tags=["public"],
        response_class=FileResponse,
    )
    return router
