"""The key folder in ``ORDERSEAL_HOME``: development CA hierarchy, service key, trust list.

Layout (``home/keys``)::

    root.crt  root.key            root CA (development: kept here; production: offline)
    device-ca.crt device-ca.key   issues station and buyer-app leaves
    service-ca.crt service-ca.key issues the capture service's sealing certificate
    service.crt service.key       sealing leaf (chain file: service-chain.pem)
    token.key                     HMAC secret for buyer tokens
    anchors.pem                   the trust list verifiers load (our root; a TSA root if added).
                                  Third parties get ``keys.publish`` instead: service CAs
                                  and TSA roots, never the root that also issues device CAs
    revocations.json              revoked device and service certificate serials (public)
    device-ca.crl service-ca.crl  CRLs signed by the issuing CA (DER), republished on change
    archive/                      retired service chains and service CAs (kept for old seals
                                  and label tokens; a retired CA key only signs its CRL)

Private keys are written with mode 0600 and never logged.
"""

from __future__ import annotations

import os
import secrets
import warnings
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from keys.backends.pem import save_private_key
from keys.ca import (
    CertificateAuthority,
    create_root,
    generate_private_key,
    issue_certificate,
    issue_intermediate,
    subject_name,
)
from keys.errors import KeysError
from keys.profile import CertificateRole
from keys.revocation import RevocationRegistry, build_crl
from keys.signer import Signer, signer_from_uri
from keys.trust import TrustList, certificates_from_pem, certificates_to_pem

__all__ = ["DevelopmentCAWarning", "KeyStore"]


class DevelopmentCAWarning(UserWarning):
    """The root key sits beside the service: fine for a demo, never for production."""


class KeyStore:
    """Reads and writes the key folder."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, name: str) -> Path:
        return self.directory / name

    @property
    def initialized(self) -> bool:
        """Whether the hierarchy exists."""
        return self._path("anchors.pem").exists()

    def initialize_development_ca(self, *, now: datetime, service_days: int = 365) -> None:
        """Create root, device CA, service CA and the sealing key, unless they exist.

        Warns ``DevelopmentCAWarning``: the root key is stored online.
        """
        if self.initialized:
            return
        warnings.warn(
            "creating a development CA whose root key is stored in the home folder",
            DevelopmentCAWarning,
            stacklevel=2,
        )
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        root = create_root("OrderSeal Development Root CA", now=now)
        device_ca = issue_intermediate(root, "OrderSeal Device CA", now=now)
        service_ca = issue_intermediate(root, "OrderSeal Service CA", now=now)
        self._save_ca("root", root)
        self._save_ca("device-ca", device_ca)
        self._save_ca("service-ca", service_ca)
        self.issue_service_key(service_ca, now=now, validity=timedelta(days=service_days))
        token_path = self._path("token.key")
        fd = os.open(token_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
        self._path("anchors.pem").write_text(certificates_to_pem((root.certificate,)))

    def issue_service_key(
        self, service_ca: CertificateAuthority, *, now: datetime, validity: timedelta
    ) -> x509.Certificate:
        """Create a fresh sealing key and certificate (used at init and at rotation)."""
        key = generate_private_key()
        key_path = self._path("service.key")
        key_path.unlink(missing_ok=True)
        save_private_key(key, key_path)
        return self.issue_service_certificate(
            service_ca, key.public_key(), now=now, validity=validity
        )

    def issue_service_certificate(
        self,
        service_ca: CertificateAuthority,
        public_key: ec.EllipticCurvePublicKey,
        *,
        now: datetime,
        validity: timedelta,
    ) -> x509.Certificate:
        """Certify a sealing key held elsewhere (HSM, KMS) and make it the current chain."""
        cert = issue_certificate(
            service_ca,
            public_key,
            subject_name("OrderSeal Capture Service", unit="service"),
            role=CertificateRole.SERVICE,
            now=now,
            validity=validity,
        )
        chain = (cert, service_ca.certificate)
        self._path("service-chain.pem").write_text(certificates_to_pem(chain))
        return cert

    # Chains, archive and anchors ---------------------------------------------
    def service_chain(self) -> tuple[x509.Certificate, ...]:
        """The current sealing certificate followed by its service CA."""
        return certificates_from_pem(self._path("service-chain.pem").read_bytes())

    @property
    def archive_directory(self) -> Path:
        """Where retired service chains and service CAs are kept."""
        return self._path("archive")

    def archive_service_chain(self) -> x509.Certificate:
        """Keep the current service chain under ``archive/`` before it is replaced.

        Returns:
            The archived sealing certificate.
        """
        chain = self.service_chain()
        self.archive_directory.mkdir(mode=0o700, exist_ok=True)
        target = self.archive_directory / f"service-{chain[0].serial_number:x}.pem"
        target.write_text(certificates_to_pem(chain))
        return chain[0]

    def archive_ca(self, name: str) -> CertificateAuthority:
        """Move a CA (certificate and key) into ``archive/`` before it is replaced."""
        ca = self.load_ca(name)
        self.archive_directory.mkdir(mode=0o700, exist_ok=True)
        stem = f"{name}-{ca.certificate.serial_number:x}"
        save_private_key(ca.private_key, self.archive_directory / f"{stem}.key")
        (self.archive_directory / f"{stem}.crt").write_text(certificates_to_pem(ca.chain_to_root))
        self._path(f"{name}.key").unlink()
        self._path(f"{name}.crt").unlink()
        return ca

    def save_ca(self, name: str, ca: CertificateAuthority) -> None:
        """Write a CA into the folder (it must not exist there yet)."""
        self._save_ca(name, ca)

    def service_certificates(self) -> tuple[x509.Certificate, ...]:
        """Every sealing certificate we have used: current first, then retired ones."""
        current = self.service_chain()[0]
        retired = [
            certificates_from_pem(path.read_bytes())[0]
            for path in sorted(self.archive_directory.glob("service-*.pem"))
        ]
        return (current, *(c for c in retired if c != current))

    def service_ca_certificates(self) -> tuple[x509.Certificate, ...]:
        """Every service CA that has issued our sealing certificates: current first, then retired.

        Retired ones come from ``archive/`` (archived service CAs, and the CA inside each
        retired sealing chain), so a seal by any sealing key we have used chains to one.
        """
        found = [certificates_from_pem(self._path("service-ca.crt").read_bytes())[0]]
        archived = [
            *sorted(self.archive_directory.glob("service-ca-*.crt")),
            *sorted(self.archive_directory.glob("service-*.pem")),
        ]
        for path in archived:
            chain = certificates_from_pem(path.read_bytes())
            ca = chain[0] if path.suffix == ".crt" else chain[-1]
            if ca not in found:
                found.append(ca)
        return tuple(found)

    def hierarchy_certificates(self) -> frozenset[x509.Certificate]:
        """Every CA certificate of our own hierarchy (roots and intermediates, current or
        retired), as the CA files in the folder and ``archive/`` name them."""
        files = [
            *(self._path(f"{name}.crt") for name in ("root", "device-ca", "service-ca")),
            *self.archive_directory.glob("*-ca-*.crt"),
        ]
        return frozenset(
            certificate
            for path in files
            if path.exists()
            for certificate in certificates_from_pem(path.read_bytes())
        )

    def add_anchor(self, certificate: x509.Certificate) -> None:
        """Add a trust anchor (a new root, or the root of a timestamp authority)."""
        anchors = self.trust_list().anchors
        if certificate not in anchors:
            self._path("anchors.pem").write_text(certificates_to_pem((*anchors, certificate)))

    # Revocation ----------------------------------------------------------------
    @property
    def revocations(self) -> RevocationRegistry:
        """The revocation registry of this folder."""
        return RevocationRegistry(self._path("revocations.json"))

    def publish_crl(self, name: str, *, now: datetime) -> x509.CertificateRevocationList:
        """Sign and write ``<name>.crl`` (DER) for CA ``device-ca`` or ``service-ca``.

        Raises:
            KeysError: unknown CA name, or the CA is not in the folder.
        """
        if name not in ("device-ca", "service-ca"):
            raise KeysError(
                f"expected CA device-ca or service-ca, found {name!r}", code="ca_unknown"
            )
        crl = build_crl(self.load_ca(name), self.revocations.load(), now=now)
        self._path(f"{name}.crl").write_bytes(crl.public_bytes(serialization.Encoding.DER))
        return crl

    def published_crl(self, name: str, *, now: datetime) -> x509.CertificateRevocationList:
        """The published CRL of ``name``; republished when missing or past ``nextUpdate``."""
        path = self._path(f"{name}.crl")
        if name in ("device-ca", "service-ca") and path.exists():
            crl = x509.load_der_x509_crl(path.read_bytes())
            next_update = crl.next_update_utc
            if next_update is not None and now < next_update:
                return crl
        return self.publish_crl(name, now=now)

    def _save_ca(self, name: str, ca: CertificateAuthority) -> None:
        save_private_key(ca.private_key, self._path(f"{name}.key"))
        self._path(f"{name}.crt").write_text(certificates_to_pem(ca.chain_to_root))

    def load_ca(self, name: str) -> CertificateAuthority:
        """Load a CA (``root``, ``device-ca`` or ``service-ca``) with its key.

        Raises:
            KeysError: the CA files are missing or unreadable.
        """
        try:
            chain = certificates_from_pem(self._path(f"{name}.crt").read_bytes())
            key = serialization.load_pem_private_key(
                self._path(f"{name}.key").read_bytes(), password=None
            )
        except OSError as exc:
            raise KeysError(f"expected CA {name!r} in the key folder, found none") from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise KeysError(f"expected an EC key for CA {name!r}")
        return CertificateAuthority(certificate=chain[0], private_key=key, chain=chain[1:])

    def trust_list(self) -> TrustList:
        """The anchors verifiers load."""
        try:
            return TrustList.from_pem(self._path("anchors.pem").read_bytes())
        except OSError as exc:
            raise KeysError("expected a trust list in the key folder; run orderseal init") from exc

    def device_ca_chain(self) -> tuple[x509.Certificate, ...]:
        """Device CA certificate and its issuers (what device leaves chain through)."""
        return certificates_from_pem(self._path("device-ca.crt").read_bytes())

    def service_signer(self, key_uri: str = "", *, secret: bytes | None = None) -> Signer:
        """The capture service's sealing signer; ``key_uri`` overrides the home PEM key.

        ``secret`` is the PEM passphrase or the PKCS#11 PIN.
        """
        chain = self.service_chain()
        uri = key_uri or f"file:{self._path('service.key')}"
        return signer_from_uri(uri, chain, password=secret)

    def token_secret(self) -> bytes:
        """HMAC secret for buyer tokens."""
        return self._path("token.key").read_text().strip().encode()
