"""A route class that reads a JSON body with a size limit before FastAPI parses it.

The framework reads a body whole, and before the route's dependencies run (authentication
included): a 10 MB statement or note would be held in memory before the model refused it, even
from a caller with no credential. A route of this class refuses a declared ``Content-Length``
over the limit before a byte is read and cuts a chunked body off at the limit (``413
payload_too_large``). Adversaries: a merchant or agent key (or anyone, since the body is read
before the key is checked) sending bodies of gigabytes to exhaust the server's memory.

Every router of the app uses this class (``tests/unit/orderseal/test_json_limits.py`` pins
it), so no route with a body model reads an unbounded body.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, ClassVar

from fastapi import Request, Response
from fastapi.routing import APIRoute

from infra.media import PayloadTooLargeError
from infra.openapi import ErrorOut

__all__ = ["MAX_JSON_BYTES", "TOO_LARGE", "BoundedJSONRoute", "bounded_json_route"]

#: The default limit (a 2000-character note fits even with every character escaped).
MAX_JSON_BYTES = 32 * 1024
#: The 413 answer to declare on each bounded route (``responses=``).
TOO_LARGE: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorOut, "description": "The body is larger than the limit"}
}


class BoundedJSONRoute(APIRoute):
    """A route whose body is read with a limit (use as ``route_class``): ``max_bytes``."""

    max_bytes: ClassVar[int] = MAX_JSON_BYTES

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        parse = super().get_route_handler()
        if self.body_field is None:
            # No body model: the framework reads no body (GETs, and the upload routes, which
            # stream theirs through ``infra.uploads`` with their own limits).
            return parse
        limit = self.max_bytes

        async def handler(request: Request) -> Response:
            declared = request.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise PayloadTooLargeError(
                    f"expected a JSON body of at most {limit} bytes, declared {declared}"
                )
            body = bytearray()
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit:
                    raise PayloadTooLargeError(f"expected a JSON body of at most {limit} bytes")
            # Starlette keeps a read body here; FastAPI's parser then reads this copy.
            request._body = bytes(body)
            return await parse(request)

        return handler


def bounded_json_route(max_bytes: int) -> type[BoundedJSONRoute]:
    """A :class:`BoundedJSONRoute` with another limit (a route whose valid body can be larger)."""
    return type(f"BoundedJSONRoute{max_bytes}", (BoundedJSONRoute,), {"max_bytes": max_bytes})
