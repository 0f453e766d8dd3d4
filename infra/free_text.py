"""Free text a person types (a merchant's statement, an agent's note, a reopen reason).

Such text is stored as typed and shown on pages, so it is checked once at the door, the same on
every ledger: PostgreSQL cannot store NUL at all, and SQLite would; other control characters
(escape sequences, backspaces) only disguise what an agent reads. Line breaks and tabs stay.

Use as ``Annotated[str, Field(min_length=1, max_length=N), AfterValidator(plain_text)]``.
"""

from __future__ import annotations

__all__ = ["plain_text"]

# C0 controls but tab, line feed and carriage return; DEL and the C1 controls.
_FORBIDDEN = frozenset(
    chr(c) for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0))
)


def plain_text(value: str) -> str:
    """``value`` when it has text and no control characters; ``ValueError`` otherwise."""
    if any(ch in _FORBIDDEN for ch in value):
        raise ValueError("expected text without control characters")
    if not value.strip():
        raise ValueError("expected text, found only blanks")
    return value
