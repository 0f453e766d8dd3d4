"""Bad-input fixtures: small size limits so limit cases stay fast, one shipped order to attack."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.settings import Settings
from tests.conftest import make_settings

#: Limits of the bad-input server (small, so "above the limit" is cheap to send).
MAX_PHOTO_BYTES = 2 * 1024 * 1024
MAX_UPLOAD_BYTES = 3 * 1024 * 1024


@pytest.fixture(scope="module")
def settings(
    module_home: Path,
    database_url: str,
    storage_overrides: dict[str, object],
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    """Small upload limits and no claimant limits (this module files many disputes)."""
    policy = tmp_path_factory.mktemp("policy") / "no-limits.toml"
    policy.write_text("[limits]\nmax_refunds_per_order = 1000\nmax_disputes_per_buyer = 10000\n")
    return make_settings(
        module_home,
        database_url=database_url,
        policy_file=policy,
        max_photo_bytes=MAX_PHOTO_BYTES,
        max_video_bytes=MAX_UPLOAD_BYTES,
        max_evidence_bytes=MAX_UPLOAD_BYTES,
        **storage_overrides,
    )
