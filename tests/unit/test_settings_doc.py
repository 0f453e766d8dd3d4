"""docs/settings.md documents every setting and only real ones."""

from __future__ import annotations

import re

from infra.settings import Settings
from tests.support.paths import repo_root


def test_settings_table_matches_the_model() -> None:
    doc = (repo_root() / "docs" / "settings.md").read_text()
    documented = set(re.findall(r"^\| `ORDERSEAL_([A-Z0-9_]+)` \|", doc, flags=re.MULTILINE))
    assert documented == {name.upper() for name in Settings.model_fields}
