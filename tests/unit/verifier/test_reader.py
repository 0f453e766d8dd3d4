"""Tests for evidence/reader.py: settings that really take effect, format detection, error
mapping, ingredient failures and the facts extracted from real third-party fixtures."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import c2pa
import pytest

from evidence.reader import (
    SUPPORTED_MEDIA_TYPES,
    CorruptMediaError,
    NoManifestError,
    ReaderError,
    ReaderReport,
    TrustSettings,
    TrustSettingsError,
    UnsupportedMediaError,
    build_reader_context,
    detect_media_type,
    read_evidence,
)
from tests.support.paths import require_fixtures_dir

TRAINED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
COMPOSITE_TRAINED = (
    "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
)
C2PA_CLAIM_SIGNING_EKU = "1.3.6.1.4.1.62558.2.1"


@pytest.fixture(scope="module")
def fixtures() -> Path:
    return require_fixtures_dir()


@pytest.fixture(scope="module")
def anchors_pem(fixtures: Path) -> str:
    return (fixtures / "c2pa-rs" / "trust" / "test_cert_root_bundle.pem").read_text()


@pytest.fixture(scope="module")
def trust(anchors_pem: str) -> TrustSettings:
    return TrustSettings(anchors_pem)


@pytest.fixture(scope="module")
def no_trust() -> TrustSettings:
    return TrustSettings("")


def _read(fixtures: Path, name: str, trust: TrustSettings) -> ReaderReport:
    return read_evidence(fixtures / name, trust=trust)


# --- settings really take effect (c2pa accepts unknown keys silently) -----------------


def test_trust_anchors_make_test_signer_trusted(fixtures: Path, trust: TrustSettings) -> None:
    report = _read(fixtures, "c2pa-rs/C.jpg", trust)
    assert report.state == "Trusted"
    assert report.failure_codes == ()


def test_empty_anchors_leave_test_signer_untrusted(fixtures: Path, no_trust: TrustSettings) -> None:
    report = _read(fixtures, "c2pa-rs/C.jpg", no_trust)
    assert report.state == "Valid"
    assert report.failure_codes == ("signingCredential.untrusted",)


def test_allowed_ekus_reach_trust_config(fixtures: Path, anchors_pem: str) -> None:
    # The Encypher leaf carries only the C2PA claim-signing EKU, which c2pa 0.38.1 does not
    # accept by default ("certificate missing required EKU" -> signingCredential.invalid).
    png = fixtures / "encypher-c2pa/x509-es256-png.png"
    default = TrustSettings(anchors_pem)
    with_eku = TrustSettings(anchors_pem, (C2PA_CLAIM_SIGNING_EKU,))

    before = read_evidence(png, trust=default)
    extended = read_evidence(png, trust=with_eku)
    after = read_evidence(png, trust=default)  # settings must not leak between contexts

    assert before.state == after.state == "Invalid"
    assert "signingCredential.invalid" in before.failure_codes
    assert "signingCredential.invalid" in after.failure_codes
    assert extended.state == "Valid"
    assert "signingCredential.invalid" not in extended.failure_codes


def test_timestamp_trust_is_verified(fixtures: Path, trust: TrustSettings) -> None:
    # With verify_timestamp_trust=false c2pa reports no timeStamp.untrusted for CACA.jpg
    # (its TSA root is not among the c2pa-rs test anchors); checked by experiment.
    report = _read(fixtures, "c2pa-rs/CACA.jpg", trust)
    assert "timeStamp.untrusted" in report.informational_codes


def test_ocsp_is_not_fetched(fixtures: Path, trust: TrustSettings) -> None:
    # ocsp_fetch=true gives signingCredential.ocsp.inaccessible here (a network attempt).
    report = _read(fixtures, "c2pa-rs/C.jpg", trust)
    assert "signingCredential.ocsp.skipped" in report.informational_codes
    assert "signingCredential.ocsp.inaccessible" not in report.informational_codes


def test_remote_manifest_is_not_fetched(fixtures: Path, trust: TrustSettings) -> None:
    with pytest.raises(NoManifestError) as caught:
        _read(fixtures, "c2pa-rs/cloud.jpg", trust)
    assert caught.value.code == "no_manifest"
    assert caught.value.remote_url == (
        "https://cai-manifests.adobe.com/manifests/"
        "adobe-urn-uuid-5f37e182-3687-462e-a7fb-573462780391"
    )
    # c2pa's own wording is the only sign that no fetch was attempted: with fetching on it
    # says "could not fetch the remote manifest" after trying the network.
    assert isinstance(caught.value.__cause__, c2pa.C2paError)
    assert "must fetch remote manifests" in str(caught.value.__cause__)


def test_context_is_cached_per_trust_settings(anchors_pem: str) -> None:
    first = build_reader_context(TrustSettings(anchors_pem))
    assert build_reader_context(TrustSettings(anchors_pem)) is first
    assert build_reader_context(TrustSettings(anchors_pem, (C2PA_CLAIM_SIGNING_EKU,))) is not first


# --- trust settings are parsed at the door ---------------------------------------------


@pytest.mark.parametrize(
    ("anchors", "ekus"),
    [
        ("not a certificate", ()),
        ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", ()),
        ("", ("1.3.6.1.4.1.62558.2.1\n1.2.3",)),
        ("", ("clientAuth",)),
    ],
    ids=["text-anchors", "garbage-pem", "newline-in-oid", "named-eku"],
)
def test_trust_settings_refuse_bad_input(anchors: str, ekus: tuple[str, ...]) -> None:
    with pytest.raises(TrustSettingsError) as caught:
        TrustSettings(anchors, ekus)
    assert caught.value.code == "trust_settings_invalid"


def test_trust_settings_error_is_a_server_error() -> None:
    with pytest.raises(TrustSettingsError) as caught:
        TrustSettings("not a certificate")
    assert caught.value.http_status == 500


# --- format detection --------------------------------------------------------------------


def _ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = major + b"\x00\x00\x00\x00" + b"".join(compatible)
    return (8 + len(body)).to_bytes(4, "big") + b"ftyp" + body


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
        (b"GIF89a\x01\x00", "image/gif"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"RIFF\x24\x00\x00\x00AVI LIST", "video/x-msvideo"),
        (b"II*\x00\x08\x00\x00\x00", "image/tiff"),
        (b"MM\x00*\x00\x00\x00\x08", "image/tiff"),
        (b"\xff\x0a\xfa\x7f", "image/jxl"),
        (_ftyp(b"isom", b"isom", b"iso2", b"avc1", b"mp41"), "video/mp4"),
        (_ftyp(b"qt  ", b"qt  "), "video/quicktime"),
        (_ftyp(b"heic", b"mif1", b"heic"), "image/heic"),
        (_ftyp(b"mif1", b"mif1", b"heic"), "image/heic"),
        (_ftyp(b"mif1", b"mif1", b"avif"), "image/avif"),
        (_ftyp(b"avif", b"mif1", b"avif"), "image/avif"),
        (b"\x00\x00\x00\x08wide\x00\x00\x00\x00mdat", "video/quicktime"),
        (b"\x1aE\xdf\xa3\x9fB\x86\x81\x01", None),  # WebM / Matroska
        (b"%PDF-1.7\n", None),
        (b"ID3\x04\x00\x00", None),
        (b"hello world\n", None),
        (b"", None),
    ],
    ids=[
        "jpeg",
        "png",
        "gif",
        "webp",
        "avi",
        "tiff-le",
        "tiff-be",
        "jxl",
        "mp4",
        "mov-ftyp",
        "heic",
        "heif-mif1-heic",
        "avif-mif1",
        "avif",
        "mov-legacy",
        "webm",
        "pdf",
        "mp3",
        "text",
        "empty",
    ],
)
def test_detect_media_type(head: bytes, expected: str | None) -> None:
    assert detect_media_type(head) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("c2pa-rs/C.jpg", "image/jpeg"),
        ("c2pa-ts/amazon-titan-g1.png", "image/png"),
        ("c2pa-rs/video1.mp4", "video/mp4"),
        ("c2pa-ts/trustnxt-icon-signed-v2-bmff.heic", "image/heic"),
    ],
    ids=["jpeg", "png", "mp4", "heic"],
)
def test_detect_media_type_on_fixtures(fixtures: Path, name: str, expected: str) -> None:
    with (fixtures / name).open("rb") as stream:
        assert detect_media_type(stream.read(64)) == expected


def test_supported_media_types_are_supported_by_c2pa() -> None:
    assert set(SUPPORTED_MEDIA_TYPES) <= set(c2pa.Reader.get_supported_mime_types())


def test_explicit_media_type_is_used(fixtures: Path, trust: TrustSettings) -> None:
    report = read_evidence(fixtures / "c2pa-rs/C.jpg", trust=trust, media_type="Image/JPEG")
    assert report.state == "Trusted"


def test_explicit_unsupported_media_type_is_refused(fixtures: Path, trust: TrustSettings) -> None:
    with pytest.raises(UnsupportedMediaError):
        read_evidence(fixtures / "c2pa-rs/C.jpg", trust=trust, media_type="video/webm")


# --- exception mapping -------------------------------------------------------------------


def _truncated(fixtures: Path, name: str, keep_bytes: int, tmp_path: Path) -> Path:
    with (fixtures / name).open("rb") as stream:
        head = stream.read(keep_bytes)
    out = tmp_path / f"truncated-{Path(name).name}"
    out.write_bytes(head)
    return out


def test_zero_byte_file_is_unsupported(tmp_path: Path, trust: TrustSettings) -> None:
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(UnsupportedMediaError) as caught:
        read_evidence(empty, trust=trust)
    assert caught.value.code == "unsupported_media"
    assert caught.value.http_status == 422


@pytest.mark.parametrize("media_type", [None, "image/jpeg"], ids=["sniffed", "claimed-jpeg"])
def test_text_file_is_unsupported(
    tmp_path: Path, trust: TrustSettings, media_type: str | None
) -> None:
    text = tmp_path / "notes.jpg"
    text.write_text("this is not a photo\n" * 20)
    with pytest.raises(UnsupportedMediaError) as caught:
        read_evidence(text, trust=trust, media_type=media_type)
    assert caught.value.code == "unsupported_media"


def test_webm_is_unsupported(tmp_path: Path, trust: TrustSettings) -> None:
    webm = tmp_path / "clip.webm"
    webm.write_bytes(b"\x1aE\xdf\xa3\x9fB\x86\x81\x01" + b"\x00" * 64)
    with pytest.raises(UnsupportedMediaError):
        read_evidence(webm, trust=trust)


@pytest.mark.parametrize(
    ("name", "keep_bytes"),
    [("c2pa-rs/C.jpg", 4096), ("c2pa-rs/video1.mp4", 1024)],
    ids=["truncated-jpeg", "truncated-mp4"],
)
def test_truncated_file_is_corrupt(
    fixtures: Path, tmp_path: Path, trust: TrustSettings, name: str, keep_bytes: int
) -> None:
    with pytest.raises(CorruptMediaError) as caught:
        read_evidence(_truncated(fixtures, name, keep_bytes, tmp_path), trust=trust)
    assert caught.value.code == "corrupt_media"
    assert isinstance(caught.value.__cause__, c2pa.C2paError)


def test_truncated_jpeg_past_manifest_reads_as_tampered(
    fixtures: Path, tmp_path: Path, trust: TrustSettings
) -> None:
    # Cut after the manifest: c2pa parses the store and reports the hash mismatch instead.
    size = (fixtures / "c2pa-rs/C.jpg").stat().st_size
    report = read_evidence(_truncated(fixtures, "c2pa-rs/C.jpg", size // 2, tmp_path), trust=trust)
    assert report.state == "Invalid"
    assert "assertion.dataHash.mismatch" in report.failure_codes


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("c2pa-rs/no_manifest.jpg", NoManifestError),
        ("c2pa-rs/video1_no_manifest.mp4", NoManifestError),
        ("c2pa-rs/nested_moov_1000.mp4", CorruptMediaError),
        ("c2pa-rs/prerelease.jpg", CorruptMediaError),
        ("c2pa-rs/no_alg.jpg", CorruptMediaError),
    ],
    ids=["no-manifest-jpeg", "no-manifest-mp4", "nested-moov", "prerelease", "no-alg"],
)
def test_c2pa_errors_are_mapped(
    fixtures: Path, trust: TrustSettings, name: str, error: type[ReaderError]
) -> None:
    with pytest.raises(error) as caught:
        _read(fixtures, name, trust)
    assert type(caught.value) is error
    assert caught.value.http_status == 422
    assert isinstance(caught.value.__cause__, c2pa.C2paError)


# --- ingredient failures -----------------------------------------------------------------


def test_ingredient_with_bad_signature_is_surfaced(fixtures: Path, trust: TrustSettings) -> None:
    report = _read(fixtures, "c2pa-rs/CIE-sig-CA.jpg", trust)
    # The active manifest itself is fine: the failure lives only in the ingredient.
    assert report.state == "Trusted"
    assert report.failure_codes == ()
    assert "claimSignature.mismatch" in report.ingredient_failure_codes
    (ingredient,) = report.active_manifest.ingredients
    assert ingredient.title == "E-sig-CA.jpg"
    assert ingredient.relationship == "componentOf"
    assert ingredient.validation_failures == ("claimSignature.mismatch",)
    assert ingredient.active_manifest in report.manifests


def test_nested_ingredient_with_bad_uri_is_surfaced(fixtures: Path, trust: TrustSettings) -> None:
    report = _read(fixtures, "c2pa-rs/CACAE-uri-CA.jpg", trust)
    assert report.state == "Trusted"
    assert "assertion.hashedURI.mismatch" in report.ingredient_failure_codes
    failing = [
        (manifest.label, ingredient.title)
        for manifest in report.manifests.values()
        for ingredient in manifest.ingredients
        if "assertion.hashedURI.mismatch" in ingredient.validation_failures
    ]
    assert [title for _, title in failing] == ["E-uri-CA.jpg"]
    assert len(report.ingredient_chain()) == 3


def test_ingredient_deltas_are_surfaced(fixtures: Path, trust: TrustSettings) -> None:
    report = _read(fixtures, "public-testfiles-cc-by-sa/adobe-20220124-E-uri-CIE-sig-CA.jpg", trust)
    assert report.state == "Invalid"
    assert "assertion.hashedURI.mismatch" in report.ingredient_failure_codes


# --- AI declarations and history -------------------------------------------------------


def test_ai_source_type_of_generated_image(fixtures: Path, trust: TrustSettings) -> None:
    report = _read(fixtures, "c2pa-ts/amazon-titan-g1.png", trust)
    assert report.active_manifest.digital_source_types == (TRAINED,)
    assert report.active_manifest.action_names == ("c2pa.created",)


def test_ai_source_types_across_history(fixtures: Path, trust: TrustSettings) -> None:
    report = _read(fixtures, "c2pa-rs/ocsp.jpg", trust)
    assert len(report.manifests) == 2
    assert COMPOSITE_TRAINED in report.active_manifest.digital_source_types
    assert "c2pa.edited" in report.active_manifest.action_names
    chain = report.ingredient_chain()
    assert chain[0] is report.active_manifest
    history = {dst for manifest in chain for dst in manifest.digital_source_types}
    assert history == {TRAINED, COMPOSITE_TRAINED}
    (firefly,) = (m for m in report.manifests.values() if TRAINED in m.digital_source_types)
    assert firefly.claim_generator is not None
    assert firefly.claim_generator.startswith("Adobe_Firefly")


# --- manifest facts ----------------------------------------------------------------------


def test_manifest_facts(fixtures: Path, trust: TrustSettings) -> None:
    facts = _read(fixtures, "c2pa-rs/C.jpg", trust).active_manifest
    assert facts.label.startswith("contentauth:urn:uuid:")
    assert facts.signer_issuer == "C2PA Test Signing Cert"
    assert facts.signer_common_name == "C2PA Signer"
    assert facts.signed_at == datetime(2024, 8, 6, 21, 53, 37, tzinfo=UTC)
    assert facts.cert_serial_number == "720724073027128164015125666832722375746636448153"
    assert facts.claim_generator is not None
    assert facts.claim_generator.startswith("make_test_images/")
    assert facts.assertions["stds.schema-org.CreativeWork"]["@type"] == "CreativeWork"
    assert facts.ingredients == ()


def test_v2_claim_generator_comes_from_claim_generator_info(
    fixtures: Path, trust: TrustSettings
) -> None:
    report = _read(fixtures, "c2pa-rs/CACA.jpg", trust)
    assert report.active_manifest.claim_generator == "make_test_images/0.67.1"


def test_repeated_assertion_labels_are_kept(fixtures: Path, trust: TrustSettings) -> None:
    report = _read(fixtures, "public-testfiles-cc-by-sa/truepic-20230212-camera.jpg", trust)
    labels = set(report.active_manifest.assertions)
    assert {"stds.exif", "stds.exif__1", "stds.exif__2"} <= labels


def test_report_mappings_are_read_only(fixtures: Path, trust: TrustSettings) -> None:
    report = _read(fixtures, "c2pa-rs/C.jpg", trust)
    with pytest.raises(TypeError):
        report.manifests["x"] = report.active_manifest  # type: ignore[index]
    with pytest.raises(TypeError):
        report.active_manifest.assertions["x"] = {}  # type: ignore[index]
