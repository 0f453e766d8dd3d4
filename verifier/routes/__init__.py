"""The verifier's HTTP routes: disputes (platform), the agent report, the public verify page.

``router`` carries the dispute and report routes under ``/v1``, the agents' workspace and the
report links (``verifier.routes.agent``, with the public ``/r/{token}`` page);
``verifier.routes.public`` carries the public page. Each module's handlers get their one
service from ``deps`` (or, for the agents' routes, from their own module).
"""

from __future__ import annotations

from fastapi import APIRouter

from verifier.routes import agent, disputes, merchant, report, reviews

__all__ = ["router"]

router = APIRouter()
router.include_router(disputes.router)
router.include_router(report.router)
router.include_router(agent.router)
router.include_router(merchant.router)
router.include_router(reviews.router)
