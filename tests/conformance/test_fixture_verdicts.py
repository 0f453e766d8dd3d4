"""Public C2PA fixtures through the verifier: none is ours, so none is ever ``allow``.

Each row's expected codes follow the outcome MANIFEST.tsv records for the file, read under
OrderSeal's trust (our root is the only anchor, so every third-party signer is untrusted).
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime

import pytest

from infra.media import sha256_file
from orderseal.services import Services
from tests.support.paths import fixtures_dir
from verifier.facts import AttachedFile

U, T, S = "untrusted_signer", "content_tampered", "signature_invalid"
EXPECTED: dict[str, tuple[str, set[str]]] = {
    # valid third-party signatures: heard by a person, never allowed
    "c2pa-rs/C.jpg": ("review", {U}),
    "c2pa-rs/CA.jpg": ("review", {U}),
    "c2pa-rs/CACA.jpg": ("review", {U}),
    "c2pa-rs/CIE-sig-CA.jpg": ("review", {U}),
    "c2pa-rs/CACAE-uri-CA.jpg": ("review", {U}),
    "c2pa-rs/legacy_ingredient_hash.jpg": ("review", {U}),
    "c2pa-rs/CA_ct.jpg": ("review", {U}),
    "c2pa-rs/video1.mp4": ("review", {U}),
    "c2pa-rs/legacy.mp4": ("review", {U}),
    "c2pa-ts/trustnxt-icon-signed-timestamp.jpg": ("review", {U}),
    "c2pa-ts/trustnxt-icon-signed-v2-bmff.heic": ("review", {U}),
    "public-testfiles-cc-by-sa/adobe-20220124-CAIAIIICAICIICAIICICA.jpg": ("review", {U}),
    # tampered content or assertions: dataHash / hashedURI mismatch
    "c2pa-rs/XCA.jpg": ("block", {T, U}),
    # ... and an ingredient reference to a claim that is not in the store (ingredient.*)
    "c2pa-rs/adobe-20220124-E-clm-CAICAI.jpg": ("block", {T, "chain_broken", U}),
    "public-testfiles-cc-by-sa/adobe-20220124-E-uri-CA.jpg": ("block", {T, U}),
    "public-testfiles-cc-by-sa/truepic-20230212-camera.jpg": ("block", {T, U}),
    "public-testfiles-cc-by-sa/adobe-20220124-E-uri-CIE-sig-CA.jpg": ("block", {T, S, U}),
    # broken claim signature or credential (expired, missing required EKU)
    "c2pa-rs/E-sig-CA.jpg": ("block", {S, U}),
    "public-testfiles-cc-by-sa/nikon-20221019-building.jpeg": ("block", {S, U}),
    "encypher-c2pa/x509-es256-mp4.mp4": ("block", {S, U}),
    "encypher-c2pa/x509-es256-png.png": ("block", {S, U}),
    # generative AI declared in the file's own history
    "c2pa-rs/ocsp.jpg": ("block", {"ai_generated_declared", U}),
    "c2pa-ts/amazon-titan-g1.png": ("block", {"ai_generated_declared", U}),
    # no embedded manifest (remote-only counts as none: the verifier never fetches)
    "c2pa-rs/no_manifest.jpg": ("review", {"no_manifest"}),
    "c2pa-rs/sample1.png": ("review", {"no_manifest"}),
    "c2pa-rs/video1_no_manifest.mp4": ("review", {"no_manifest"}),
    "c2pa-rs/cloud.jpg": ("review", {"no_manifest"}),
    # unreadable containers or manifests
    "c2pa-rs/nested_moov_1000.mp4": ("review", {"corrupt_media"}),
    "c2pa-rs/prerelease.jpg": ("review", {"corrupt_media"}),
    "c2pa-rs/no_alg.jpg": ("review", {"corrupt_media"}),
}


def _rows() -> list[str]:
    with (fixtures_dir() / "MANIFEST.tsv").open(newline="") as handle:
        return [row["file"] for row in csv.DictReader(handle, delimiter="\t")]


def test_every_fixture_has_an_expectation() -> None:
    assert set(_rows()) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED), ids=sorted(EXPECTED))
def test_fixture_verdict(name: str, services: Services) -> None:
    path = fixtures_dir() / name
    verdict = services.verifier.verify_files(
        [AttachedFile(path, path.name, sha256_file(path))],
        order_id="ORD-FIXTURE",
        buyer_id=None,
        now=datetime.now(UTC),
    )
    decision, codes = EXPECTED[name]
    assert verdict.decision.value != "allow"
    assert verdict.decision.value == decision
    # The order is not in our ledger, so order_unknown always stands beside the file's own codes.
    assert {r.code.value for r in verdict.reasons} == codes | {"order_unknown"}
