"""Free text typed by people is refused with control characters, kept with line breaks."""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import AfterValidator, BaseModel, ValidationError

from infra.free_text import plain_text


class _Note(BaseModel):
    note: Annotated[str, AfterValidator(plain_text)]


@pytest.mark.parametrize("text", ["Packed right.", "one\ntwo\r\n\tindented", "包装正确。"])
def test_text_with_line_breaks_and_any_script_is_kept(text: str) -> None:
    assert _Note(note=text).note == text


@pytest.mark.parametrize(
    "text", ["a\x00b", "\x1b[2Jcleared", "back\x08space", "del\x7f", "c1\x85line", " \n\t "]
)
def test_controls_and_blank_text_are_refused(text: str) -> None:
    with pytest.raises(ValidationError) as caught:
        _Note(note=text)
    assert [e["type"] for e in caught.value.errors()] == ["value_error"]
