"""Endpoint URL checks against server-side request forgery.

A platform key chooses where the service sends requests, so the URL is checked when it is
registered and its addresses again before every attempt (DNS may change in between): only
``https`` to public addresses, unless ``ORDERSEAL_WEBHOOK_ALLOW_PRIVATE_TARGETS`` lets tests and
the demo use ``http`` and loopback or private hosts. Link-local (cloud metadata at
169.254.169.254), multicast, unspecified and reserved addresses are refused always.

``pin_target`` resolves once per attempt and names the address that was checked: the
dispatcher connects to that IP, with the URL's host as ``Host`` and as TLS SNI (the
certificate is checked against the name), so a name that re-resolves between the check and
the connect (DNS rebinding) cannot steer the request inside.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from infra.webhooks.errors import WebhookURLError

__all__ = ["MAX_URL_CHARS", "PinnedTarget", "check_target", "pin_target"]

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


def _embedded(address: _Address) -> list[_Address]:
    # A 6to4 address (2002:V4::/48) reaches the IPv4 host it embeds through a relay:
    # 2002:7f00:1:: is loopback and 2002:a9fe:a9fe:: the metadata host in disguise, though
    # ``ipaddress`` calls 2002::/16 global.
    if isinstance(address, ipaddress.IPv6Address) and address.sixtofour is not None:
        return [address.sixtofour]
    return []


@dataclass(frozen=True)
class PinnedTarget:
    """Where one attempt connects: the checked address in ``url``, the name beside it."""

    #: The endpoint URL with its host replaced by the checked IP address.
    url: str
    #: The ``Host`` header: the URL's host (and its port when not the scheme's default).
    host_header: str
    #: The name TLS sends as SNI and checks the certificate against (None for ``http``).
    server_name: str | None


def pin_target(url: str, *, allow_private: bool) -> PinnedTarget:
    """Check ``url`` as ``check_target`` does and pin the first address it resolved to.

    Raises:
        WebhookURLError: ``webhook_url_invalid``.
    """
    addresses = _checked_addresses(url, allow_private=allow_private)
    parts = urlsplit(url)
    host = parts.hostname or ""
    pinned = addresses[0]
    literal = f"[{pinned}]" if isinstance(pinned, ipaddress.IPv6Address) else str(pinned)
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    shown = f"[{host}]" if ":" in host else host
    return PinnedTarget(
        url=urlunsplit((parts.scheme, netloc, parts.path, parts.query, "")),
        host_header=f"{shown}:{parts.port}" if parts.port else shown,
        server_name=host if parts.scheme == "https" and ":" not in host else None,
    )


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
        _ = parts.port  # a port that is not a number raises here
    except ValueError as exc:
        raise WebhookURLError("expected a URL, found one that does not parse") from exc
    allowed_schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in allowed_schemes:
        raise WebhookURLError(
            f"expected a {' or '.join(allowed_schemes)} URL, found {parts.scheme!r}"
        )
    if not parts.hostname or parts.username or parts.password:
        raise WebhookURLError("expected a host and no credentials in the URL")
    if resolve:
        _checked_addresses(url, allow_private=allow_private)
    return url


def _checked_addresses(url: str, *, allow_private: bool) -> list[_Address]:
    """Every address the URL's host resolves to, each checked; the URL itself too."""
    check_target(url, allow_private=allow_private, resolve=False)
    parts = urlsplit(url)
    default_port = 443 if parts.scheme == "https" else 80
    checked: list[_Address] = []
    for found in _addresses(parts.hostname or "", parts.port or default_port):
        address = _unmapped(found)
        for each in (address, *_embedded(address)):
            if _always_refused(each):
                raise WebhookURLError(f"expected a routable address, found {each}")
            if not allow_private and (each.is_private or each.is_loopback or not each.is_global):
                raise WebhookURLError(f"expected a public address, found {each}")
        checked.append(address)
    if not checked:
        raise WebhookURLError(f"expected a host that resolves, found {parts.hostname!r}")
    return checked
