"""Errors raised by key management and signing."""

from __future__ import annotations

from infra.errors import OrderSealError

__all__ = ["CertificateError", "KeyPermissionError", "KeysError", "SignerError"]


class KeysError(OrderSealError):
    """Base class for keys/ failures."""

    code = "keys_error"
    http_status = 500


class KeyPermissionError(KeysError):
    """A private key file is readable by group or others; we refuse to use it."""

    code = "key_permissions_too_open"


class SignerError(KeysError):
    """A signer backend failed to produce a signature."""

    code = "signer_unavailable"
    http_status = 503


class CertificateError(KeysError):
    """A certificate or CSR does not meet the profile we require."""

    code = "certificate_invalid"
    http_status = 422
