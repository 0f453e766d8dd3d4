"""The agent workspace and the seller page, with their static files (public: no data in them).

``/agent`` calls the agent API with the agent's own key, ``/seller`` the merchant API with the
merchant's key (each kept in the tab's sessionStorage). Both pages share ``ui.js`` and the
stylesheet from the one static folder.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter

from infra.web import page_router

__all__ = ["STATIC_DIR", "router"]

STATIC_DIR = Path(__file__).parent / "static"

router = APIRouter()
router.include_router(
    page_router(
        path="/agent",
        page="agent.html",
        directory=STATIC_DIR,
        page_doc="The agents' dispute queue and workspace (sign in with the agent API key).",
        files_doc="The agent pages' script and styles.",
    )
)
router.include_router(
    page_router(
        path="/seller",
        page="seller.html",
        directory=STATIC_DIR,
        page_doc="A seller's disputes and answers (sign in with the merchant API key).",
        files_doc="The seller page's script and styles.",
    )
)
