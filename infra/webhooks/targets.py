"""Endpoint URL checks against server-side request forgery.

A platform key chooses where the service sends requests, so the URL is checked when it is
registered and its addresses again before every attempt (DNS may change in between): only
``https`` to public addresses, unless ``ORDERSEAL_WEBHOOK_ALLOW_PRIVATE_TARGETS`` lets tests and
the demo use ``http`` and loopback or private hosts. Link-local (cloud metadata at
169.254.169.254), multicast, unspecified and reserved addresses are refused always.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from infra.webhooks.errors import WebhookURLError

__all__ = ["MAX_URL_CHARS", "check_target"]

MAX_URL_CHARS = 2048
_Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _always_refused(address: _Address) -> bool:
    return (
        address.is_link_local
        or address.is_multicast
        or address.is_unspecified
        or (address.is_reserved and not address.is_private)
    )


def _addresses(host: str, port: int) -> list[_Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise WebhookURLError(f"expected a host that resolves, found {host!r}") from exc
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


def _unmapped(address: _Address) -> _Address:
    # ::ffff:169.254.169.254 is the metadata address too.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def check_target(url: str, *, allow_private: bool, resolve: bool = True) -> str:
    """Refuse a webhook URL the service must not call; return it unchanged otherwise.

    Args:
        url: the endpoint URL.
        allow_private: accept ``http`` and loopback/private addresses (tests, the demo).
        resolve: also resolve the host and check every address it has.

    Raises:
        WebhookURLError: ``webhook_url_invalid``.
    """
    if len(url) > MAX_URL_CHARS or not url.isascii() or not url.isprintable():
        raise WebhookURLError(f"expected a printable ASCII URL of at most {MAX_URL_CHARS} chars")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise WebhookURLError("expected a URL, found one that does not parse") from exc
    allowed_schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in allowed_schemes:
        raise WebhookURLError(
            f"expected a {' or '.join(allowed_schemes)} URL, found {parts.scheme!r}"
        )
    if not parts.hostname or parts.username or parts.password:
        raise WebhookURLError("expected a host and no credentials in the URL")
    if not resolve:
        return url
    default_port = 443 if parts.scheme == "https" else 80
    for found in _addresses(parts.hostname, port or default_port):
        address = _unmapped(found)
        if _always_refused(address):
            raise WebhookURLError(f"expected a routable address, found {address}")
        if not allow_private and (
            address.is_private or address.is_loopback or not address.is_global
        ):
            raise WebhookURLError(f"expected a public address, found {address}")
    return url
