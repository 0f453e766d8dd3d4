"""The agent pages and their static files (public: no data in them).

The pages call the agent API with the agent's own key (kept in the tab's sessionStorage).
"""

from __future__ import annotations

from pathlib import Path

from infra.web import page_router

__all__ = ["STATIC_DIR", "router"]

STATIC_DIR = Path(__file__).parent / "static"

router = page_router(
    path="/agent",
    page="agent.html",
    directory=STATIC_DIR,
    page_doc="Dispute list and report for agents (sign in with the agent API key inside).",
    files_doc="The agent pages' script and styles.",
)
