"""The verifier routes' dependencies: each handler declares the one service it uses.

Services are taken from (or built over) the application's ``VerifierContext`` per request, so
nothing is built at import time. They are ``async`` so FastAPI resolves them on the event
loop, not in a thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request

from infra.idempotency import Idempotency
from infra.settings import Settings
from verifier.context import VerifierContext
from verifier.disputes import DisputeService
from verifier.merchants import BuyerIdentity, MerchantDisputes
from verifier.public import PublicVerifier
from verifier.report import ReportService
from verifier.reviews import ReviewImages

__all__ = [
    "Disputes",
    "Edge",
    "HTTPEdge",
    "Idempotent",
    "MerchantViews",
    "Public",
    "Reports",
    "Reviews",
]


def _context(request: Request) -> VerifierContext:
    context: VerifierContext = request.app.state.services
    return context


@dataclass(frozen=True)
class HTTPEdge:
    """What a handler needs besides its service: settings, the clock, the work folder."""

    settings: Settings
    clock: Callable[[], datetime]
    work_dir: Path


async def _edge(request: Request) -> HTTPEdge:
    context = _context(request)
    return HTTPEdge(settings=context.settings, clock=context.clock, work_dir=context.work_dir)


async def _disputes(request: Request) -> DisputeService:
    return _context(request).verifier


async def _idempotency(request: Request) -> Idempotency:
    return Idempotency(_context(request).ledger.idempotency)


async def _reports(request: Request) -> ReportService:
    context = _context(request)
    return ReportService(
        disputes=context.verifier,
        thumbnail_dir=context.settings.resolved_home / "thumbnails",
    )


async def _merchant_views(request: Request) -> MerchantDisputes:
    context = _context(request)
    return MerchantDisputes(
        ledger=context.ledger,
        store=context.store,
        identity=BuyerIdentity(context.settings.merchant_buyer_identity, context.token_secret),
        base_url=context.settings.base_url,
    )


async def _public(request: Request) -> PublicVerifier:
    return PublicVerifier(facts=_context(request).verifier.facts)


async def _reviews(request: Request) -> ReviewImages:
    return ReviewImages(facts=_context(request).verifier.facts)


Edge = Annotated[HTTPEdge, Depends(_edge)]
Reviews = Annotated[ReviewImages, Depends(_reviews)]
Disputes = Annotated[DisputeService, Depends(_disputes)]
Reports = Annotated[ReportService, Depends(_reports)]
Public = Annotated[PublicVerifier, Depends(_public)]
MerchantViews = Annotated[MerchantDisputes, Depends(_merchant_views)]
#: ``Idempotency-Key`` handling over the ledger (infra.idempotency).
Idempotent = Annotated[Idempotency, Depends(_idempotency)]
