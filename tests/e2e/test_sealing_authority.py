"""Sealing authority (issue 13): only our sealing service makes evidence that passes.

Attackers use real keys enrolled through our own API (a buyer's app, a station, a revoked
device) and plain c2pa-python, with and without a manifest id, capture assertion and
shipment ingredients copied from an honest capture of the same buyer. Each forged file is
judged through the three paths: a dispute over HTTP, ``orderseal verify`` and the public
``/verify`` page. Honest evidence must stay ``allow`` on its own order after someone attaches
it to another order; files whose bytes differ from what was sealed are ``not_as_sealed``.

``orderseal verify`` runs in this process through ``orderseal.cli.main`` (tests/support/cli.py),
which saves a three-second interpreter start per file; two checks run the installed binary for
real: the honest photo allowed after misuse elsewhere (exit 0) and the empty file (exit 3, no
traceback).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from infra.settings import Settings
from orderseal.forgery import CopiedSeal, ForgeryRefusedError, sign_with_device_key
from orderseal.samples import make_jpeg
from orderseal.services import Services
from tests.conftest import make_settings
from tests.support import flows
from tests.support.cli import CLIRun, run_main, run_process
from tests.support.forgery import (
    Forger,
    admin_enrolled_station,
    append_top_level_box,
    edit_ftyp_compatible_brand,
    legacy_enrolled_device,
    self_enrolled_buyer_device,
)
from tests.support.keys_cli import check_keys

SIGNERS = ("buyer-app", "station", "revoked-device")
VARIANTS = ("bare", "copied")
FORGERIES = [f"{signer}-{variant}" for signer in SIGNERS for variant in VARIANTS]
COPIED = [name for name in FORGERIES if name.endswith("-copied")]
MP4_EDITS = ("appended-free-box", "appended-skip-box", "ftyp-brand-edited")
_ZIP_LIKE = b"PK\x03\x04" + b"\x00" * 26 + b"payload riding along after the seal"


@pytest.fixture(scope="module")
def settings(
    module_home: Path,
    database_url: str,
    storage_overrides: dict[str, object],
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    """One buyer files many claims here: claimant limits are not under test."""
    policy = tmp_path_factory.mktemp("policy") / "no-limits.toml"
    policy.write_text("[limits]\nmax_refunds_per_order = 100\nmax_disputes_per_buyer = 1000\n")
    return make_settings(
        module_home, database_url=database_url, policy_file=policy, **storage_overrides
    )


@dataclass(frozen=True)
class Honest:
    """An order received honestly: its sealed receipt photo and video, and their ids."""

    order_id: str
    photo: Path
    video: Path
    photo_evidence_id: str


@dataclass(frozen=True)
class Judged:
    """One file judged through the three paths."""

    dispute: dict[str, Any]
    public: dict[str, Any]
    cli: CLIRun

    @property
    def cli_json(self) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self.cli.stdout)
        return body


def _receive(cast: flows.Actors, services: Services, work: Path) -> Honest:
    work.mkdir(exist_ok=True)
    order_id = flows.register_order(cast)
    photo, video = flows.receive(
        cast, flows.ship(cast, order_id, work, video=True), work, video=True
    )
    record = services.ledger.evidence_by_sealed_sha256(
        hashlib.sha256(photo.read_bytes()).hexdigest()
    )
    assert record is not None
    return Honest(order_id, photo, video, record.evidence_id)


def _failed_codes(decided: Mapping[str, Any]) -> set[str]:
    """Codes of every failed check of every attached file."""
    return {
        check["code"]
        for evidence in decided["verdict"]["evidence"]
        for check in evidence["checks"]
        if not check["passed"]
    }


def _public(base_url: str, path: Path) -> dict[str, Any]:
    response = httpx.post(
        f"{base_url}/verify",
        content=path.read_bytes(),
        headers={"Content-Type": "application/octet-stream"},
        timeout=120,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _verify_args(path: Path, order_id: str, buyer_id: str) -> list[str]:
    return ["verify", str(path), "--order", order_id, "--buyer", buyer_id, "--json"]


def _cli(settings: Settings, path: Path, order_id: str, buyer_id: str) -> CLIRun:
    """``orderseal verify`` in this process."""
    return run_main(settings, *_verify_args(path, order_id, buyer_id))


def _cli_process(settings: Settings, path: Path, order_id: str, buyer_id: str) -> CLIRun:
    """``orderseal verify`` as the installed binary, in its own process."""
    return run_process(settings, *_verify_args(path, order_id, buyer_id))


def _cli_all(settings: Settings, jobs: Mapping[str, tuple[Path, str, str]]) -> dict[str, CLIRun]:
    """Run ``orderseal verify`` in this process for every job."""
    return {name: _cli(settings, *job) for name, job in jobs.items()}


@pytest.fixture(scope="module")
def cast(live_api: str, credentials: dict[str, str]) -> flows.Actors:
    return flows.actors(live_api, credentials)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("authority")


@pytest.fixture(scope="module")
def honest(cast: flows.Actors, services: Services, work: Path) -> Honest:
    """The honest capture whose seal the forgers copy."""
    return _receive(cast, services, work / "honest")


@pytest.fixture(scope="module")
def forgers(cast: flows.Actors, services: Services, settings: Settings) -> dict[str, Forger]:
    """Device keys of the buyer, of a station and of a revoked device (all enrolled by us)."""
    revoked = legacy_enrolled_device(services, kind="buyer", owner_id=cast.buyer_id)
    check_keys(settings, "revoke", revoked.device_id, "--reason", "key_compromise")
    return {
        "buyer-app": legacy_enrolled_device(services, kind="buyer", owner_id=cast.buyer_id),
        "station": legacy_enrolled_device(services, kind="station", owner_id=None),
        "revoked-device": revoked,
    }


@pytest.fixture(scope="module")
def forged(
    honest: Honest, forgers: dict[str, Forger], services: Services, work: Path
) -> dict[str, Path]:
    """Each forger signs a bare staged photo and one wearing the honest photo's seal."""
    copied = CopiedSeal.from_sealed(honest.photo, "image/jpeg")
    trust_pem = services.keys.trust_list().pem
    out = work / "forged"
    out.mkdir()
    files: dict[str, Path] = {}
    for index, (name, forger) in enumerate(forgers.items()):
        for variant in VARIANTS:
            staged = make_jpeg(
                out / f"{name}-{variant}-staged.jpg", seed=900 + index, size=(320, 240)
            )
            files[f"{name}-{variant}"] = sign_with_device_key(
                staged,
                out / f"{name}-{variant}.jpg",
                media_type="image/jpeg",
                private_key=forger.private_key,
                chain=forger.chain,
                trust_pem=trust_pem,
                copied=copied if variant == "copied" else None,
            )
    return files


@pytest.fixture(scope="module")
def judged(
    cast: flows.Actors, settings: Settings, honest: Honest, forged: dict[str, Path]
) -> dict[str, Judged]:
    """Every forgery filed as a claim on the honest order, by the honest order's buyer."""
    cli = _cli_all(
        settings, {name: (path, honest.order_id, cast.buyer_id) for name, path in forged.items()}
    )
    return {
        name: Judged(
            flows.dispute(cast, honest.order_id, [path]),
            _public(cast.base_url, path),
            cli[name],
        )
        for name, path in forged.items()
    }


@pytest.mark.parametrize(
    "enrolment",
    ["self-enrolled-buyer-app", "admin-enrolled-station"],
    ids=["self-enrolled-buyer-app", "admin-enrolled-station"],
)
def test_current_device_certificates_cannot_sign_claims(
    cast: flows.Actors,
    credentials: dict[str, str],
    services: Services,
    work: Path,
    enrolment: str,
) -> None:
    """c2pa itself refuses a claim signer with today's device EKUs, whatever it chains to."""
    if enrolment == "self-enrolled-buyer-app":
        token = flows.buyer_token_response(cast.platform, cast.buyer_id)
        forger = self_enrolled_buyer_device(cast.base_url, token["token"], cast.buyer_id)
    else:
        forger = admin_enrolled_station(cast.base_url, credentials["admin"])
    staged = make_jpeg(work / f"{enrolment}-staged.jpg", seed=77, size=(320, 240))
    with pytest.raises(ForgeryRefusedError):
        sign_with_device_key(
            staged,
            work / f"{enrolment}.jpg",
            media_type="image/jpeg",
            private_key=forger.private_key,
            chain=forger.chain,
            trust_pem=services.keys.trust_list().pem,
        )
    assert not (work / f"{enrolment}.jpg").exists()


@pytest.mark.parametrize("name", FORGERIES, ids=FORGERIES)
def test_device_signed_file_is_an_untrusted_signer_in_disputes(
    judged: dict[str, Judged], honest: Honest, name: str
) -> None:
    decided = judged[name].dispute
    assert decided["verdict"]["decision"] != "allow", decided["verdict"]
    assert "untrusted_signer" in _failed_codes(decided), decided["verdict"]
    assert "untrusted_signer" in flows.codes(decided)
    evidence_ids = {e["evidence_id"] for e in decided["verdict"]["evidence"]}
    assert honest.photo_evidence_id not in evidence_ids


@pytest.mark.parametrize("name", COPIED, ids=COPIED)
def test_forgery_wearing_an_honest_seal_is_blocked(judged: dict[str, Judged], name: str) -> None:
    assert judged[name].dispute["verdict"]["decision"] == "block", judged[name].dispute["verdict"]


@pytest.mark.parametrize("name", FORGERIES, ids=FORGERIES)
def test_public_page_never_calls_a_device_signed_file_intact(
    judged: dict[str, Judged], name: str
) -> None:
    body = judged[name].public
    assert body["carries_orderseal_chain"] is False, body
    assert body["intact"] is False, body
    # An anonymous caller learns nothing of the ledger from a file our key did not sign: no
    # evidence id, no "is this manifest id recorded" answer.
    assert "ev_" not in json.dumps(body)
    assert {f["code"] for f in body["findings"]} <= {"untrusted_signer", "signature_invalid"}


@pytest.mark.parametrize("name", FORGERIES, ids=FORGERIES)
def test_cli_never_exits_0_for_a_device_signed_file(judged: dict[str, Judged], name: str) -> None:
    result = judged[name].cli
    assert result.returncode in (1, 2), result.stdout + result.stderr
    body = judged[name].cli_json
    assert body["decision"] != "allow"
    assert "untrusted_signer" in {r["code"] for r in body["reasons"]}
    if name.endswith("-copied"):
        assert (result.returncode, body["decision"]) == (1, "block")


def test_source_of_the_copied_seal_is_still_allowed(
    cast: flows.Actors, honest: Honest, judged: dict[str, Judged]
) -> None:
    """The forgeries named the honest photo's manifest; the honest files stay allowed."""
    assert judged  # every forgery has been filed on this order first
    decided = flows.dispute(cast, honest.order_id, [honest.photo, honest.video])
    assert decided["verdict"]["decision"] == "allow", decided["verdict"]
    assert flows.codes(decided) == set()


def test_flipped_pixel_byte_is_content_tampered_not_untrusted_signer(
    cast: flows.Actors, honest: Honest, work: Path
) -> None:
    data = bytearray(honest.photo.read_bytes())
    data[-200] ^= 0x01  # inside the entropy-coded scan, before EOI
    tampered = work / "flipped.jpg"
    tampered.write_bytes(bytes(data))
    decided = flows.dispute(cast, honest.order_id, [tampered])
    assert decided["verdict"]["decision"] == "block"
    assert "content_tampered" in flows.codes(decided)
    assert "untrusted_signer" not in flows.codes(decided) | _failed_codes(decided)


@pytest.fixture(scope="module")
def edited_videos(honest: Honest, work: Path) -> dict[str, Path]:
    folder = work / "edited"
    folder.mkdir()
    return {
        "appended-free-box": append_top_level_box(
            honest.video, folder / "free.mp4", b"free", _ZIP_LIKE
        ),
        "appended-skip-box": append_top_level_box(
            honest.video, folder / "skip.mp4", b"skip", _ZIP_LIKE
        ),
        "ftyp-brand-edited": edit_ftyp_compatible_brand(honest.video, folder / "ftyp.mp4"),
    }


@pytest.fixture(scope="module")
def judged_videos(
    cast: flows.Actors, settings: Settings, honest: Honest, edited_videos: dict[str, Path]
) -> dict[str, Judged]:
    cli = _cli_all(
        settings,
        {name: (path, honest.order_id, cast.buyer_id) for name, path in edited_videos.items()},
    )
    return {
        name: Judged(
            flows.dispute(cast, honest.order_id, [path]), _public(cast.base_url, path), cli[name]
        )
        for name, path in edited_videos.items()
    }


@pytest.mark.parametrize("name", MP4_EDITS, ids=MP4_EDITS)
def test_bytes_added_after_sealing_are_not_as_sealed(
    judged_videos: dict[str, Judged], name: str
) -> None:
    case = judged_videos[name]
    assert case.dispute["verdict"]["decision"] != "allow", case.dispute["verdict"]
    assert "not_as_sealed" in _failed_codes(case.dispute), case.dispute["verdict"]
    assert case.cli.returncode in (1, 2), case.cli.stdout + case.cli.stderr
    assert "not_as_sealed" in {r["code"] for r in case.cli_json["reasons"]}
    assert case.public["intact"] is False, case.public
    assert case.public["carries_orderseal_chain"] is False, case.public
    assert "not_as_sealed" in {f["code"] for f in case.public["findings"]}
    assert "ev_" not in json.dumps(case.public)  # fixed public text, no evidence id


@dataclass(frozen=True)
class Misuse:
    """Honest files claimed on their order, attached to another order's claim, claimed again."""

    own: dict[str, Any]
    other: dict[str, Any]
    own_again: dict[str, Any]
    cli: dict[str, CLIRun]


@pytest.fixture(scope="module")
def misuse(cast: flows.Actors, services: Services, settings: Settings, work: Path) -> Misuse:
    """The demo's order of events: honest claim, reuse on another order, honest re-check."""
    mine = _receive(cast, services, work / "misuse")
    other_order = flows.register_order(cast)
    flows.ship(cast, other_order, work / "misuse")
    own = flows.dispute(cast, mine.order_id, [mine.photo, mine.video])
    other = flows.dispute(cast, other_order, [mine.photo, mine.video])
    own_again = flows.dispute(cast, mine.order_id, [mine.photo, mine.video])
    cli = {
        # One real process: the installed binary allows the honest photo (exit 0).
        "photo": _cli_process(settings, mine.photo, mine.order_id, cast.buyer_id),
        "video": _cli(settings, mine.video, mine.order_id, cast.buyer_id),
    }
    return Misuse(own, other, own_again, cli)


def test_first_honest_claim_is_allowed(misuse: Misuse) -> None:
    assert misuse.own["verdict"]["decision"] == "allow", misuse.own["verdict"]
    assert flows.codes(misuse.own) == set()


def test_claim_of_another_order_with_honest_files_is_blocked(misuse: Misuse) -> None:
    assert misuse.other["verdict"]["decision"] == "block"
    assert {"order_mismatch", "evidence_reused"} <= flows.codes(misuse.other)


def test_honest_files_stay_allowed_on_their_own_order_after_misuse_elsewhere(
    misuse: Misuse,
) -> None:
    """The re-filed claim comes after the misuse and after an earlier claim of its order."""
    decided = misuse.own_again
    assert decided["verdict"]["decision"] == "allow", decided["verdict"]
    assert flows.codes(decided) == set()
    assert "evidence_reused" not in _failed_codes(decided)


@pytest.mark.parametrize("kind", ["photo", "video"], ids=["photo", "video"])
def test_cli_allows_honest_files_on_their_own_order_after_misuse_elsewhere(
    misuse: Misuse, kind: str
) -> None:
    result = misuse.cli[kind]
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["decision"] == "allow"


def test_cli_empty_file_exits_3_with_a_reason_code(
    settings: Settings, cast: flows.Actors, honest: Honest, work: Path
) -> None:
    empty = work / "empty.jpg"
    empty.write_bytes(b"")
    result = _cli_process(settings, empty, honest.order_id, cast.buyer_id)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    body = json.loads(result.stdout)
    codes = {r["code"] for r in body.get("reasons", [])}
    if isinstance(body.get("error"), dict):
        codes.add(body["error"]["code"])
    assert "unsupported_media" in codes, body
