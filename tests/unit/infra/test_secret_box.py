"""Sealed stored secrets: what a reader of the ledger alone gets, and what a writer can do."""

from __future__ import annotations

import pytest

from infra.secret_box import SEALED_PREFIX, SecretBox, SecretUnreadableError

ROOT = b"a root secret from keys/token.key"


def _box(root: bytes = ROOT, purpose: str = "webhook endpoint secrets") -> SecretBox:
    return SecretBox.derive(root, purpose=purpose)


def test_a_sealed_secret_opens_for_its_row_and_does_not_show_the_plaintext() -> None:
    sealed = _box().seal("whsec_c2VjcmV0", context="we_1")
    assert sealed.startswith(SEALED_PREFIX)
    assert "whsec_" not in sealed
    assert "c2VjcmV0" not in sealed
    assert _box().open(sealed, context="we_1") == "whsec_c2VjcmV0"


def test_sealing_twice_gives_different_values() -> None:
    box = _box()
    assert box.seal("whsec_x", context="we_1") != box.seal("whsec_x", context="we_1")


def test_a_value_copied_onto_another_row_does_not_open() -> None:
    # A writer of the ledger moves endpoint A's sealed secret onto endpoint B.
    sealed = _box().seal("whsec_a", context="we_a")
    with pytest.raises(SecretUnreadableError) as caught:
        _box().open(sealed, context="we_b")
    assert caught.value.code == "stored_secret_unreadable"


@pytest.mark.parametrize(
    "other",
    [
        _box(root=b"another service's root secret!!"),
        _box(purpose="another purpose"),
    ],
)
def test_another_key_does_not_open_it(other: SecretBox) -> None:
    sealed = _box().seal("whsec_a", context="we_a")
    with pytest.raises(SecretUnreadableError):
        other.open(sealed, context="we_a")


@pytest.mark.parametrize("mangle", ["flip", "truncate", "not_base64"])
def test_an_edited_value_does_not_open(mangle: str) -> None:
    sealed = _box().seal("whsec_a", context="we_a")
    body = sealed.removeprefix(SEALED_PREFIX)
    edited = {
        "flip": body[:-3] + ("A" if body[-3] != "A" else "B") + body[-2:],
        "truncate": body[:10],
        "not_base64": "***",
    }[mangle]
    with pytest.raises(SecretUnreadableError):
        _box().open(SEALED_PREFIX + edited, context="we_a")


def test_a_value_stored_before_sealing_reads_as_it_is() -> None:
    assert _box().open("whsec_bGVnYWN5", context="we_a") == "whsec_bGVnYWN5"
