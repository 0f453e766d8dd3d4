"""clean_name keeps what its caller allows, cuts, strips and falls back when nothing is left."""

from __future__ import annotations

import pytest

from infra.names import clean_name


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("  a/b.jpg ", "ab.jpg"), ("///", "fallback"), ("x" * 300, "x" * 10)],
    ids=["kept", "nothing-left", "cut"],
)
def test_clean_name(raw: str, expected: str) -> None:
    keep = lambda c: c not in "/"  # noqa: E731
    assert clean_name(raw, keep=keep, max_chars=10, fallback="fallback") == expected
