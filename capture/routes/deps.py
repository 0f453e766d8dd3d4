"""Route dependencies: each capture route module's own service, and the clock.

The composition root's services object (``app.state.services``) satisfies
:class:`capture.context.CaptureContext`; these dependencies hand a route only its part.
They are ``async`` so that FastAPI resolves them on the event loop, not in a thread.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request

from capture.context import CaptureContext
from capture.devices import DeviceService
from capture.files import EvidenceFiles
from capture.orders import OrderService
from capture.publishing import TrustPublisher
from capture.services import CaptureServices
from capture.sessions import SessionService
from capture.tokens import BuyerTokenIssuer
from capture.uploads import UploadService
from infra.idempotency import Idempotency

__all__ = [
    "BuyerTokens",
    "Clock",
    "Devices",
    "Files",
    "Idempotent",
    "Orders",
    "Sessions",
    "Trust",
    "Uploads",
]


def _context(request: Request) -> CaptureContext:
    context: CaptureContext = request.app.state.services
    return context


def _capture(request: Request) -> CaptureServices:
    return _context(request).capture


async def _clock(request: Request) -> Callable[[], datetime]:
    return _context(request).clock


async def _orders(request: Request) -> OrderService:
    return _capture(request).orders


async def _devices(request: Request) -> DeviceService:
    return _capture(request).devices


async def _sessions(request: Request) -> SessionService:
    return _capture(request).sessions


async def _uploads(request: Request) -> UploadService:
    return _capture(request).uploads


async def _files(request: Request) -> EvidenceFiles:
    return _capture(request).files


async def _trust(request: Request) -> TrustPublisher:
    return _capture(request).trust


async def _idempotency(request: Request) -> Idempotency:
    return Idempotency(_context(request).ledger.idempotency)


async def _buyer_tokens(request: Request) -> BuyerTokenIssuer:
    return _capture(request).buyer_tokens


#: The application's clock; handlers call it where the time is taken (after a body arrives).
Clock = Annotated[Callable[[], datetime], Depends(_clock)]
Orders = Annotated[OrderService, Depends(_orders)]
Devices = Annotated[DeviceService, Depends(_devices)]
Sessions = Annotated[SessionService, Depends(_sessions)]
Uploads = Annotated[UploadService, Depends(_uploads)]
Files = Annotated[EvidenceFiles, Depends(_files)]
Trust = Annotated[TrustPublisher, Depends(_trust)]
BuyerTokens = Annotated[BuyerTokenIssuer, Depends(_buyer_tokens)]
#: ``Idempotency-Key`` handling over the ledger (infra.idempotency).
Idempotent = Annotated[Idempotency, Depends(_idempotency)]
