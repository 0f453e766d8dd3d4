"""Revocation: revoked certificate serials, kept in the key folder, and the CRLs built from them.

The registry is ``keys/revocations.json`` (public data: serials, issuer key ids, times and
reasons; no key material). It records device and service certificates alike, so one file
feeds both the published CRLs (``device-ca.crl``, ``service-ca.crl``, DER) and the verifier's
service-key revocation check. Device revocations are also written to the ledger
(``devices.revoked_at``), which the capture service and the verifier read for devices.

``build_crl`` is pure (explicit ``now``); ``RevocationRegistry`` does the file I/O and writes
atomically (temporary name, then rename), so a reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from keys.ca import CertificateAuthority
from keys.errors import KeysError

__all__ = [
    "CRL_NEXT_UPDATE",
    "REVOCATION_REASONS",
    "Revocation",
    "RevocationRegistry",
    "build_crl",
    "issuer_key_id",
    "parse_reason",
]

#: How long a published CRL is current; republished on every revocation and rotation.
CRL_NEXT_UPDATE = timedelta(days=7)

#: RFC 5280 §5.3.1 reason codes we accept, by the names the CLI takes.
REVOCATION_REASONS: dict[str, x509.ReasonFlags] = {
    "unspecified": x509.ReasonFlags.unspecified,
    "key_compromise": x509.ReasonFlags.key_compromise,
    "ca_compromise": x509.ReasonFlags.ca_compromise,
    "affiliation_changed": x509.ReasonFlags.affiliation_changed,
    "superseded": x509.ReasonFlags.superseded,
    "cessation_of_operation": x509.ReasonFlags.cessation_of_operation,
    "privilege_withdrawn": x509.ReasonFlags.privilege_withdrawn,
}


def parse_reason(text: str) -> str:
    """Normalise a reason (``key_compromise``, ``keyCompromise`` or ``key-compromise``).

    Raises:
        KeysError: not an RFC 5280 reason we accept (code ``revocation_reason_invalid``).
    """
    normalised = "".join(f"_{c.lower()}" if c.isupper() else c for c in text.strip())
    normalised = normalised.replace("-", "_").strip("_")
    if normalised not in REVOCATION_REASONS:
        raise KeysError(
            f"expected a reason in {sorted(REVOCATION_REASONS)}, found {text!r}",
            code="revocation_reason_invalid",
            http_status=422,
        )
    return normalised


def issuer_key_id(certificate: x509.Certificate) -> str:
    """Hex key identifier of the CA that issued ``certificate`` (its AKI, else its issuer DN)."""
    try:
        aki = certificate.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    except x509.ExtensionNotFound:
        aki = None
    if aki is not None and aki.key_identifier:
        return aki.key_identifier.hex()
    return certificate.issuer.rfc4514_string()


def _subject_key_id(certificate: x509.Certificate) -> str:
    try:
        ski = certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        return certificate.subject.rfc4514_string()
    return ski.digest.hex()


@dataclass(frozen=True)
class Revocation:
    """One revoked certificate.

    Attributes:
        serial_hex: certificate serial, lower-case hex.
        issuer_key_id: key id of the issuing CA (see :func:`issuer_key_id`).
        kind: ``device`` or ``service``.
        subject: the device id, or the service certificate's CN.
        revoked_at: aware UTC time from which the key is no longer trusted.
        reason: a key of :data:`REVOCATION_REASONS`.
    """

    serial_hex: str
    issuer_key_id: str
    kind: str
    subject: str
    revoked_at: datetime
    reason: str

    @property
    def serial_decimal(self) -> str:
        """The serial as c2pa reports it (``signature_info.cert_serial_number``)."""
        return str(int(self.serial_hex, 16))

    def to_json(self) -> dict[str, str]:
        """Serialise for the registry file."""
        data = asdict(self)
        data["revoked_at"] = self.revoked_at.isoformat()
        return data

    @classmethod
    def from_json(cls, data: object) -> Revocation:
        """Parse one registry entry.

        Raises:
            KeysError: malformed entry (code ``revocations_corrupt``).
        """
        try:
            if not isinstance(data, dict):
                raise TypeError("entry is not an object")
            revoked_at = datetime.fromisoformat(str(data["revoked_at"]))
            if revoked_at.tzinfo is None:
                raise ValueError("naive time")
            int(str(data["serial_hex"]), 16)
            return cls(
                serial_hex=str(data["serial_hex"]).lower(),
                issuer_key_id=str(data["issuer_key_id"]),
                kind=str(data["kind"]),
                subject=str(data["subject"]),
                revoked_at=revoked_at,
                reason=parse_reason(str(data["reason"])),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise KeysError(
                "expected well-formed revocation entries", code="revocations_corrupt"
            ) from exc


def build_crl(
    issuer: CertificateAuthority,
    revocations: tuple[Revocation, ...],
    *,
    now: datetime,
    next_update: timedelta = CRL_NEXT_UPDATE,
) -> x509.CertificateRevocationList:
    """Build the CRL of ``issuer``: every revocation whose certificate it issued.

    Args:
        issuer: the issuing CA (its key signs the CRL, RFC 5280 §5).
        revocations: all known revocations; entries of other issuers are left out.
        now: aware UTC ``thisUpdate``.
        next_update: time until ``nextUpdate``.

    Returns:
        The signed CRL.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    own_id = _subject_key_id(issuer.certificate)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.certificate.subject)
        .last_update(now)
        .next_update(now + next_update)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.private_key.public_key()),
            critical=False,
        )
        .add_extension(x509.CRLNumber(int(now.timestamp() * 1000)), critical=False)
    )
    for entry in sorted(revocations, key=lambda r: r.serial_hex):
        if entry.issuer_key_id != own_id:
            continue
        revoked = (
            x509.RevokedCertificateBuilder()
            .serial_number(int(entry.serial_hex, 16))
            .revocation_date(entry.revoked_at)
            .add_extension(x509.CRLReason(REVOCATION_REASONS[entry.reason]), critical=False)
            .build()
        )
        builder = builder.add_revoked_certificate(revoked)
    return builder.sign(issuer.private_key, hashes.SHA256())


class RevocationRegistry:
    """The revocation file of a key folder."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> tuple[Revocation, ...]:
        """Every recorded revocation (none when the file does not exist yet).

        Raises:
            KeysError: the file is unreadable or malformed (``revocations_corrupt``).
        """
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return ()
        except OSError as exc:
            raise KeysError(
                "expected a readable revocation file", code="revocations_corrupt"
            ) from exc
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise KeysError("expected a JSON revocation file", code="revocations_corrupt") from exc
        entries = data.get("revoked") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            raise KeysError("expected a list of revocations", code="revocations_corrupt")
        return tuple(Revocation.from_json(entry) for entry in entries)

    def add(self, revocation: Revocation) -> Revocation:
        """Record a revocation; revoking a serial again keeps the first entry.

        Read, append and replace happen under an exclusive lock on a sidecar file, so two
        processes revoking at once (an admin CLI and an API worker) both land in the file.

        Returns:
            The entry now in force for that serial.
        """
        with self._locked():
            current = self.load()
            for entry in current:
                if (entry.serial_hex, entry.issuer_key_id) == (
                    revocation.serial_hex,
                    revocation.issuer_key_id,
                ):
                    return entry
            self._save((*current, revocation))
            return revocation

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(f".{self.path.name}.lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def service_serials(self) -> dict[str, datetime]:
        """Revoked service certificates: decimal serial (as c2pa reports it) to revocation time."""
        return {r.serial_decimal: r.revoked_at for r in self.load() if r.kind == "service"}

    def _save(self, entries: tuple[Revocation, ...]) -> None:
        body = json.dumps({"revoked": [e.to_json() for e in entries]}, indent=2)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".revocations-")
        with os.fdopen(fd, "w") as handle:
            handle.write(body)
        os.chmod(tmp, 0o644)  # public data: CRL input, no secrets
        os.replace(tmp, self.path)
