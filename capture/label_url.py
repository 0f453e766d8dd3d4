"""The label's QR payload: a URL of our capture page with the label token in its fragment.

Any phone camera opens ``<public base URL>/capture#t=OS1.…``; the fragment never reaches a
server or proxy log (browsers do not send it). Our page and the server also accept the bare
``OS1.…`` token that labels printed before this carried.

Adversary: a scam card beside the parcel whose QR is a look-alike URL (another host, a
``https://orderseal.example@evil.example/…`` userinfo trick, a punycode twin, our host as a
subdomain of theirs) that may even carry a genuine token copied off a real label. Only our
own origin's capture path, byte for byte as we print it, is accepted; everything else is
"not an official label", so the check never vouches for a page we do not serve.
"""

from __future__ import annotations

import re

from capture.tokens import LABEL_PREFIX
from wire.provisional import PROVISIONAL_PREFIX

__all__ = ["CAPTURE_PATH", "label_token_from_payload", "label_url"]

CAPTURE_PATH = "/capture"
_FRAGMENT_KEY = "t"
_MAX_PAYLOAD_CHARS = 4096
#: A label token's alphabet: prefix, then base64url parts joined by dots. A station's
#: provisional label (printed offline, issue 18 §1) has the same form under its own prefix.
_TOKEN = re.compile(rf"(?:{LABEL_PREFIX}|{PROVISIONAL_PREFIX})\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+")


def label_url(base_url: str, token: str) -> str:
    """The URL a label's QR carries: our capture page, the token in the fragment.

    Args:
        base_url: the public base URL (``Settings.base_url``), without a trailing slash.
        token: the signed label token.

    Returns:
        ``<base_url>/capture#t=<token>``.
    """
    return f"{_origin(base_url)}{CAPTURE_PATH}#{_FRAGMENT_KEY}={token}"


def label_token_from_payload(payload: str, *, base_url: str) -> str | None:
    """The label token a scanned QR payload carries, or None when it is not our label's form.

    Accepted: a bare token, or exactly ``label_url(base_url, token)``. The comparison is on
    the text as printed, not on a parsed URL, so userinfo, another port, a trailing dot,
    percent-escapes or a host that merely ends or starts like ours never match. The token's
    signature is still to be verified by the caller.

    Args:
        payload: the QR text as scanned (or typed).
        base_url: our public base URL.

    Returns:
        The token text, or None.
    """
    text = payload.strip()
    if len(text) > _MAX_PAYLOAD_CHARS:
        return None
    if _TOKEN.fullmatch(text):
        return text
    prefix = label_url(base_url, "")
    if not text.startswith(prefix):
        return None
    token = text[len(prefix) :]
    return token if _TOKEN.fullmatch(token) else None


def _origin(base_url: str) -> str:
    return base_url.rstrip("/")
