"""Routes serving the buyer capture page and its static files (public: no data in them).

Every data call the page makes goes to the buyer API with the buyer's own token.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from infra.auth import PublicCaller
from infra.web import static_file

__all__ = ["STATIC_DIR", "router"]

STATIC_DIR = Path(__file__).parent / "static"

router = APIRouter()


@router.get("/capture", tags=["public"], response_class=FileResponse)
def capture_page(caller: PublicCaller) -> FileResponse:
    """The buyer's unboxing capture page (sign in with the platform token inside)."""
    return static_file(STATIC_DIR, "capture.html")


@router.get("/capture/static/{name:path}", tags=["public"], response_class=FileResponse)
def capture_static(name: str, caller: PublicCaller) -> FileResponse:
    """The page's scripts, styles and the vendored QR decoder (with its licence)."""
    return static_file(STATIC_DIR, name)
