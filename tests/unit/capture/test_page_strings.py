"""Every string key of the buyer capture page exists in every language catalogue (issue 18 §6)."""

from __future__ import annotations

import json
import re

from capture.web.pages import STATIC_DIR

LANGUAGES = ("en", "zh-CN", "zh-TW")


def _catalogue(lang: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((STATIC_DIR / "i18n" / f"{lang}.json").read_text("utf-8"))
    return data


def test_every_key_used_exists_in_every_language() -> None:
    # The review stage and the label cue have their own scripts (issue 19 §2, §3), with keys
    # in the same catalogues.
    script = "\n".join(
        (STATIC_DIR / name).read_text("utf-8")
        for name in ("capture.js", "review.js", "label_cue.js")
    )
    page = (STATIC_DIR / "capture.html").read_text("utf-8")
    used = set(re.findall(r'\bt\("([a-zA-Z_.]+)"', script))
    used |= set(re.findall(r'data-i18n(?:-placeholder)?="([^"]+)"', page))
    keys = set(_catalogue("en"))
    for lang in LANGUAGES:
        assert set(_catalogue(lang)) == keys, lang
    assert used - keys == set()
