"""Routes serving the agent pages and their static files (public: no data in them).

The pages call the agent API with the agent's own key (kept in the tab's sessionStorage).
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


@router.get("/agent", tags=["public"], response_class=FileResponse)
def agent_page(caller: PublicCaller) -> FileResponse:
    """Dispute list and report for agents (sign in with the agent API key inside)."""
    return static_file(STATIC_DIR, "agent.html")


@router.get("/agent/static/{name:path}", tags=["public"], response_class=FileResponse)
def agent_static(name: str, caller: PublicCaller) -> FileResponse:
    """The agent pages' script and styles."""
    return static_file(STATIC_DIR, name)
