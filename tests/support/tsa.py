"""A real RFC 3161 timestamp authority on loopback: ``openssl ts -reply`` behind a tiny HTTP server.

No TSA server installs from the registries here, so the tests run OpenSSL's own responder:
each POSTed ``application/timestamp-query`` is answered by ``openssl ts -reply`` with a
token signed by a TSA certificate (EKU timeStamping, critical, nothing else) under its own
root, which the verifier must trust. The keys and certificates are made with our ``keys/``
code and ``cryptography``.
"""

from __future__ import annotations

import subprocess
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from keys.backends.pem import save_private_key
from keys.ca import create_root, generate_private_key, subject_name
from keys.trust import certificates_to_pem

__all__ = ["TimestampAuthority"]

_CONFIG = """\
[ tsa ]
default_tsa = tsa_config

[ tsa_config ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.crt
certs = $dir/chain.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def _tsa_certificate(directory: Path) -> x509.Certificate:
    now = datetime.now(UTC)
    root = create_root("Test Timestamp Root", now=now)
    key = generate_private_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject_name("Test TSA", organization="Test TSA"))
        .issuer_name(root.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root.private_key.public_key()),
            critical=False,
        )
        .sign(root.private_key, hashes.SHA256())
    )
    save_private_key(key, directory / "tsa.key")
    (directory / "tsa.crt").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (directory / "chain.pem").write_text(certificates_to_pem((certificate, root.certificate)))
    (directory / "root.crt").write_text(certificates_to_pem((root.certificate,)))
    (directory / "serial").write_text("01\n")
    return root.certificate


class TimestampAuthority:
    """``with TimestampAuthority() as tsa:`` serves RFC 3161 at ``tsa.url``."""

    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="orderseal-tsa-")
        self.directory = Path(self._tmp.name)
        self.root = _tsa_certificate(self.directory)
        self.config = self.directory / "tsa.cnf"
        self.config.write_text(_CONFIG.format(dir=self.directory))
        self.requests = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.url = ""

    def _reply(self, query: bytes) -> bytes:
        with self._lock, tempfile.TemporaryDirectory(dir=self.directory) as scratch:
            self.requests += 1
            query_path, reply_path = Path(scratch) / "q.tsq", Path(scratch) / "r.tsr"
            query_path.write_bytes(query)
            subprocess.run(
                [
                    "openssl",
                    "ts",
                    "-reply",
                    "-config",
                    str(self.config),
                    "-queryfile",
                    str(query_path),
                    "-out",
                    str(reply_path),
                ],
                check=True,
                capture_output=True,
                timeout=30,
            )
            return reply_path.read_bytes()

    def __enter__(self) -> TimestampAuthority:
        authority = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                try:
                    body = authority._reply(self.rfile.read(length))
                except subprocess.CalledProcessError:
                    self.send_error(400, "bad timestamp query")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        self._tmp.cleanup()
