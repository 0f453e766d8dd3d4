"""Webhook delivery connects to the address it checked, with the endpoint's name for Host and TLS.

The adversary is a platform key whose endpoint name resolves to a public address when checked
and to an internal one a moment later (DNS rebinding): the dispatcher resolves once per
attempt (``pin_target``), refuses a private address, and connects to exactly the checked IP;
the ``Host`` header and TLS SNI carry the name, and the receiver's certificate is still
checked against the name. A real HTTPS receiver on loopback with a certificate for
``localhost`` only (no IP address in it) shows both: delivered through the pinned 127.0.0.1,
and refused when the certificate names another host.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from infra.errors import OrderSealError
from infra.ledger.webhooks import ClaimedDelivery
from infra.secret_box import SecretBox
from infra.webhooks.delivery import Dispatcher, RetryPolicy, WebhookSigner
from infra.webhooks.targets import pin_target

NOW = datetime.now(UTC)


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _certificates(folder: Path, dns_name: str) -> tuple[Path, Path, Path]:
    """A test CA and a server certificate for ``dns_name`` only; (CA, cert, key) PEM files."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("pinning test CA"))
        .issuer_name(_name("pinning test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(minutes=5))
        .not_valid_after(NOW + timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name(dns_name))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(minutes=5))
        .not_valid_after(NOW + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns_name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .add_extension(x509.ExtendedKeyUsage([x509.OID_SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = (folder / "ca.pem", folder / "server.pem", folder / "server.key")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


class _Receiver:
    """An HTTPS receiver on 127.0.0.1 that records the Host header of each POST."""

    def __init__(self, cert: Path, key: Path) -> None:
        hosts: list[str] = []
        self.hosts = hosts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", "0")))
                hosts.append(self.headers.get("host", ""))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _dispatcher(ca: Path) -> Dispatcher:
    return Dispatcher(
        repository=None,  # type: ignore[arg-type]  # attempt() never touches the queue
        signer=WebhookSigner(sign=lambda data: b"\0" * 64, key_id="whk_test"),
        retry=RetryPolicy(),
        secret_box=SecretBox.derive(b"pinning-test-root-secret", purpose="webhook secrets"),
        timeout_seconds=5.0,
        allow_private=True,
        tls_trust=ssl.create_default_context(cafile=str(ca)),
    )


def _delivery(url: str) -> ClaimedDelivery:
    return ClaimedDelivery(
        delivery_id="dlv_pin",
        event_id="msg_pin",
        endpoint_id="whe_pin",
        body=b'{"type":"dispute.decided"}',
        url=url,
        secrets=(),
        attempts=0,
        window_started_at=NOW,
    )


@pytest.fixture
def receiver(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[_Receiver, Path]]:
    ca, cert, key = _certificates(tmp_path, request.param)
    running = _Receiver(cert, key)
    yield running, ca
    running.stop()


@pytest.mark.parametrize("receiver", ["localhost"], indirect=True)
def test_delivery_goes_to_the_checked_address_under_the_endpoint_name(
    receiver: tuple[_Receiver, Path],
) -> None:
    server, ca = receiver
    url = f"https://localhost:{server.port}/hooks"
    pinned = pin_target(url, allow_private=True)
    assert pinned.url.startswith(("https://127.0.0.1:", "https://[::1]:"))
    dispatcher = _dispatcher(ca)
    with dispatcher.client() as client:
        outcome = dispatcher.attempt(client, _delivery(url))
    assert (outcome.delivered, outcome.status_code) == (True, 204), outcome.error
    # The certificate names localhost only: TLS verified it against the name, not the IP.
    assert server.hosts == [f"localhost:{server.port}"]


@pytest.mark.parametrize("receiver", ["other.example"], indirect=True)
def test_a_certificate_for_another_name_is_refused_at_the_pinned_address(
    receiver: tuple[_Receiver, Path],
) -> None:
    server, ca = receiver
    dispatcher = _dispatcher(ca)
    with dispatcher.client() as client:
        outcome = dispatcher.attempt(client, _delivery(f"https://localhost:{server.port}/hooks"))
    assert not outcome.delivered
    assert outcome.error == "ConnectError"
    assert server.hosts == []


def test_a_name_resolving_inside_is_refused_before_any_connection() -> None:
    # Production refuses private targets: a name that answers loopback now is refused, and
    # the address a delivery connects to is the one that passed this check.
    with pytest.raises(OrderSealError) as caught:
        pin_target("https://localhost/hooks", allow_private=False)
    assert caught.value.code == "webhook_url_invalid"
