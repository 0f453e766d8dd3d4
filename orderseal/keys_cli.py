"""``orderseal keys``: enrol, renew and revoke devices; rotate, publish and protect our keys;
``orderseal keys api`` manages the operators' API keys (``orderseal.api_keys_cli``).

Every command reads ``ORDERSEAL_*`` settings (home folder, ledger, signer backend). Output
never contains private key material: only certificates, serials and file names.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from rich.console import Console

from infra.errors import InputError
from infra.ledger.repository import Ledger
from infra.settings import Settings
from keys.store import KeyStore
from keys.trust import certificates_from_pem
from orderseal.api_keys_cli import api_keys_app
from orderseal.webhook_keys_cli import webhook_keys_app

__all__ = ["keys_app"]

keys_app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="Device enrolment, revocation, key rotation"
)
_console = Console(highlight=False)
keys_app.add_typer(api_keys_app, name="api")
keys_app.add_typer(webhook_keys_app, name="webhook")


def _now() -> datetime:
    return datetime.now(UTC)


def _keys(settings: Settings) -> KeyStore:
    return KeyStore(settings.resolved_home / "keys")


def _ledger(settings: Settings) -> Ledger:
    from infra.db import create_ledger_engine, create_schema, session_factory

    engine = create_ledger_engine(settings.resolved_database_url)
    create_schema(engine)
    return Ledger(session_factory(engine))


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"expected a readable file, found none at {path.name}") from exc


def _at(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InputError("expected --at as an ISO 8601 time with a UTC offset") from exc
    if value.tzinfo is None:
        raise InputError("expected --at with a UTC offset (e.g. 2025-01-01T12:00:00+00:00)")
    return value.astimezone(UTC)


def _write_or_print(text: str, out: Path | None) -> None:
    if out is None:
        print(text, end="")
    else:
        out.write_text(text)
        _console.print(f"written {out}")


@keys_app.command()
def enroll(
    csr: Annotated[Path, typer.Option("--csr", help="the device's CSR (PEM)")],
    device_id: Annotated[str, typer.Option("--device-id", help="name of the device")],
    kind: Annotated[str, typer.Option("--kind", help="station or buyer")],
    owner: Annotated[str | None, typer.Option("--owner", help="buyer id (buyer apps)")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="write certificate + chain")] = None,
    merchant: Annotated[
        str | None, typer.Option("--merchant", help="the merchant a station packs for")
    ] = None,
) -> None:
    """Approve a device CSR: issue its short-lived certificate and record the device."""
    from capture.devices import enrol_device

    settings = Settings()
    issued = enrol_device(
        _keys(settings),
        _ledger(settings),
        csr_pem=_read(csr),
        device_id=device_id,
        kind=kind,
        owner_id=owner,
        now=_now(),
        validity=timedelta(days=settings.device_cert_days),
        merchant_id=merchant,
    )
    _write_or_print(issued.certificate_pem + issued.chain_pem, out)
    _console.print(
        f"enrolled {device_id} ({kind}), serial {issued.certificate.serial_number:x}, "
        f"valid until {issued.certificate.not_valid_after_utc.isoformat()}"
    )


@keys_app.command()
def renew(
    device_id: Annotated[str, typer.Argument(help="enrolled device")],
    csr: Annotated[Path, typer.Option("--csr", help="CSR made with the same device key")],
    out: Annotated[Path | None, typer.Option("--out", help="write certificate + chain")] = None,
) -> None:
    """Renew a device certificate before it expires (same key: the CSR proves possession)."""
    from capture.devices import renew_device

    settings = Settings()
    issued = renew_device(
        _keys(settings),
        _ledger(settings),
        device_id=device_id,
        csr_pem=_read(csr),
        now=_now(),
        validity=timedelta(days=settings.device_cert_days),
    )
    _write_or_print(issued.certificate_pem + issued.chain_pem, out)
    _console.print(
        f"renewed {device_id}, serial {issued.certificate.serial_number:x}, "
        f"valid until {issued.certificate.not_valid_after_utc.isoformat()}"
    )


@keys_app.command()
def revoke(
    device_id: Annotated[str, typer.Argument(help="device to revoke")],
    reason: Annotated[str, typer.Option("--reason", help="e.g. key_compromise, superseded")],
    at: Annotated[str | None, typer.Option("--at", help="revoked since (ISO time)")] = None,
) -> None:
    """Revoke a device and publish the device CA's CRL."""
    from capture.devices import revoke_device

    settings = Settings()
    entry = revoke_device(
        _keys(settings), _ledger(settings), device_id, reason=reason, now=_now(), at=_at(at)
    )
    _console.print(
        f"revoked {device_id} (serial {entry.serial_hex}) since {entry.revoked_at.isoformat()}"
        f", reason {entry.reason}; CRL published"
    )


@keys_app.command("revoke-service")
def revoke_service(
    serial: Annotated[str, typer.Argument(help="sealing certificate serial (hex) or 'current'")],
    reason: Annotated[str, typer.Option("--reason", help="e.g. key_compromise, superseded")],
    at: Annotated[str | None, typer.Option("--at", help="revoked since (ISO time)")] = None,
) -> None:
    """Revoke a sealing certificate and publish the service CA's CRL (rotate first)."""
    from capture.devices import revoke_service_certificate

    settings = Settings()
    entry = revoke_service_certificate(
        _keys(settings), serial, reason=reason, now=_now(), at=_at(at)
    )
    _console.print(
        f"revoked sealing certificate {entry.serial_hex} since {entry.revoked_at.isoformat()}"
        f", reason {entry.reason}; CRL published"
    )


@keys_app.command()
def crl(
    ca: Annotated[str, typer.Option("--ca", help="device or service")] = "device",
    out: Annotated[Path | None, typer.Option("--out", help="write the CRL (PEM)")] = None,
) -> None:
    """Publish (re-sign) a CRL and print it as PEM."""
    settings = Settings()
    if ca not in ("device", "service"):
        raise InputError(f"expected --ca device or service, found {ca!r}")
    revocation_list = _keys(settings).publish_crl(f"{ca}-ca", now=_now())
    _write_or_print(revocation_list.public_bytes(serialization.Encoding.PEM).decode(), out)


@keys_app.command()
def rotate(
    intermediate: Annotated[
        bool, typer.Option("--intermediate", help="also replace the service CA")
    ] = False,
) -> None:
    """Rotate the sealing key (and optionally the service CA); restart servers afterwards.

    With ORDERSEAL_SIGNER=file a new key is made in the home folder. With pkcs11 or kms,
    create the new key in the HSM/KMS first, point the settings at it, then run this to
    certify it.
    """
    from keys.rotation import rotate_service_key
    from keys.signer import PublicKeySigner
    from orderseal.signing import open_service_signer

    settings = Settings()
    keys = _keys(settings)
    public_key = None
    if settings.service_key_uri or settings.signer != "file":
        signer = open_service_signer(settings, keys, check_chain=False)
        if not isinstance(signer, PublicKeySigner):
            raise InputError("expected a signer backend that shows its public key")
        public_key = signer.public_key()
    rotation = rotate_service_key(
        keys,
        now=_now(),
        validity=timedelta(days=settings.service_cert_days),
        intermediate=intermediate,
        public_key=public_key,
    )
    _console.print(
        f"sealing certificate {rotation.old_serial} retired, {rotation.new_serial} current"
        + (
            f"; new service CA {rotation.intermediate_serial}"
            if rotation.intermediate_serial
            else ""
        )
    )
    _console.print("restart every server so it seals with the new key")


@keys_app.command("hsm-keygen")
def hsm_keygen() -> None:
    """Generate the sealing key inside the PKCS#11 token named by the settings."""
    from keys.backends.pkcs11 import PKCS11KeyRef, generate_token_key

    settings = Settings()
    if not settings.pkcs11_token:
        raise InputError("expected ORDERSEAL_PKCS11_TOKEN")
    ref = PKCS11KeyRef(settings.pkcs11_module, settings.pkcs11_token, settings.pkcs11_key_label)
    generate_token_key(ref, pin=settings.pkcs11_pin.get_secret_value())
    _console.print(
        f"generated {ref.key_label} in token {ref.token_label}; run orderseal keys rotate"
    )


@keys_app.command("add-anchor")
def add_anchor(
    certificate: Annotated[Path, typer.Argument(help="PEM root to trust (e.g. the TSA root)")],
) -> None:
    """Add a trust anchor, such as the root of the timestamp authority."""
    settings = Settings()
    keys = _keys(settings)
    for cert in certificates_from_pem(_read(certificate)):
        keys.add_anchor(cert)
        _console.print(f"trusting {cert.subject.rfc4514_string()}")


@keys_app.command("export-trust")
def export_trust(
    directory: Annotated[Path, typer.Argument(help="folder to write the published trust to")],
) -> None:
    """Write claim-signing anchors, c2pa-settings.json, the device CA chain and CRLs."""
    from keys.publish import export_trust as write_trust

    settings = Settings()
    for path in write_trust(_keys(settings), directory, now=_now()):
        _console.print(f"written {path}")


@keys_app.command("export-root")
def export_root(
    directory: Annotated[Path, typer.Argument(help="offline media folder")],
    remove: Annotated[
        bool, typer.Option("--remove", help="delete the root key from the home afterwards")
    ] = False,
) -> None:
    """Copy the root CA (certificate and key) to offline media."""
    from keys.offline import export_root as do_export

    settings = Settings()
    do_export(_keys(settings), directory, remove=remove)
    _console.print(f"root exported to {directory}" + ("; removed from the home" if remove else ""))


@keys_app.command("import-root")
def import_root(
    directory: Annotated[Path, typer.Argument(help="folder holding root.crt and root.key")],
) -> None:
    """Bring the exported root key back into the home folder."""
    from keys.offline import import_root as do_import

    settings = Settings()
    do_import(_keys(settings), directory)
    _console.print("root key imported")


@keys_app.command("issue-intermediate")
def issue_intermediate(
    root_dir: Annotated[Path, typer.Option("--root-dir", help="offline root folder")],
) -> None:
    """Issue a new service CA from an offline root; the old one is archived.

    Then run ``orderseal keys rotate`` to certify the sealing key under it.
    """
    from keys.offline import load_root
    from keys.rotation import replace_intermediate

    settings = Settings()
    keys = _keys(settings)
    root = load_root(root_dir)
    new_ca = replace_intermediate(keys, root, "service-ca", now=_now())
    _console.print(f"new service CA {new_ca.certificate.serial_number:x}")
    _console.print("run orderseal keys rotate to certify the sealing key under it")


def _show(certificate: x509.Certificate) -> str:
    return f"{certificate.serial_number:x} until {certificate.not_valid_after_utc.isoformat()}"


@keys_app.command()
def status() -> None:
    """Show the sealing certificates (current and retired) and revocations."""
    settings = Settings()
    keys = _keys(settings)
    certificates = keys.service_certificates()
    _console.print(f"current sealing certificate {_show(certificates[0])}")
    for retired in certificates[1:]:
        _console.print(f"retired sealing certificate {_show(retired)}")
    for entry in keys.revocations.load():
        _console.print(
            f"revoked {entry.kind} {entry.subject} serial {entry.serial_hex} "
            f"since {entry.revoked_at.isoformat()} ({entry.reason})"
        )
