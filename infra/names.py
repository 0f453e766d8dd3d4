"""Client-supplied names (attachment filenames, capture titles) checked at the door."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from infra.errors import InputError

__all__ = ["MAX_NAME_CHARS", "check_client_name", "clean_name", "install_path_guard"]

MAX_NAME_CHARS = 200


def check_client_name(raw: str, *, what: str = "filename") -> str:
    """Return ``raw`` as the UTF-8 text it encodes, or refuse it (``invalid_filename``).

    HTTP headers arrive as latin-1 text: a client that sends UTF-8 bytes gets them back here
    decoded properly; bytes that are not UTF-8 are refused. Path separators, ``..``, control
    characters and names longer than :data:`MAX_NAME_CHARS` are refused too: a name is a label,
    never a path.

    Raises:
        InputError: ``invalid_filename`` with what was wrong.
    """
    try:
        encoded = raw.encode("latin-1")
    except UnicodeEncodeError:
        encoded = None  # not from an HTTP header: already text
    try:
        text = encoded.decode("utf-8") if encoded is not None else raw
    except UnicodeDecodeError as exc:
        raise InputError(f"expected a UTF-8 {what}", code="invalid_filename") from exc
    problem = _problem(text)
    if problem:
        raise InputError(f"expected a plain {what}, found {problem}", code="invalid_filename")
    return text


def clean_name(
    raw: str,
    *,
    keep: Callable[[str], bool],
    max_chars: int = MAX_NAME_CHARS,
    fallback: str,
) -> str:
    """A name fit to store and show: the characters ``keep`` accepts, cut and stripped.

    Args:
        raw: the name as it came (already checked by :func:`check_client_name` at the door).
        keep: which characters stay.
        max_chars: at most this many characters are kept (before stripping).
        fallback: the name when nothing is left.

    Returns:
        The cleaned name, never empty.
    """
    cleaned = "".join(c for c in raw if keep(c))[:max_chars].strip()
    return cleaned or fallback


def _problem(text: str) -> str | None:
    if len(text) > MAX_NAME_CHARS:
        return f"{len(text)} characters (at most {MAX_NAME_CHARS})"
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in text):
        return "control characters"
    if "/" in text or "\\" in text or text.strip() in (".", "..") or ".." in text.split("/"):
        return "a path"
    return None


def install_path_guard(app: FastAPI) -> None:
    """Refuse request paths holding control characters (NUL, newlines, ...) before any route.

    Ids travel in paths; PostgreSQL cannot even compare text holding NUL, so such a path gets
    the same 400 ``invalid_path`` on every backend instead of reaching a query. A plain ASGI
    middleware: Starlette's ``BaseHTTPMiddleware`` costs a task and a stream per request.
    """
    app.add_middleware(_PathGuard)


class _PathGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and any(ord(c) < 0x20 or ord(c) == 0x7F for c in path):
            refusal = JSONResponse(
                status_code=400,
                content={
                    "error": {
                        "code": "invalid_path",
                        "message": "expected a path without control characters",
                    }
                },
            )
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)
