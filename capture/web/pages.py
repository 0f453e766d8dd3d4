"""The buyer capture page and its static files (public: no data in them).

Every data call the page makes goes to the buyer API with the buyer's own token.
"""

from __future__ import annotations

from pathlib import Path

from infra.web import page_router

__all__ = ["STATIC_DIR", "router"]

STATIC_DIR = Path(__file__).parent / "static"

router = page_router(
    path="/capture",
    page="capture.html",
    directory=STATIC_DIR,
    page_doc="The buyer's unboxing capture page (sign in with the platform token inside).",
    files_doc="The page's scripts, styles and the vendored QR decoder (with its licence).",
)
