"""Intake screening on crafted files: generator and editor traces, EXIF time, C2PA manifests."""

from __future__ import annotations

import hashlib
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from capture.intake import CLOCK_SKEW, metadata_findings, screen_upload
from evidence.reader import CorruptMediaError, TrustSettings, read_evidence
from infra.settings import Settings
from keys.store import KeyStore
from orderseal.bootstrap import initialize_home
from orderseal.samples import make_jpeg, make_mp4, make_png
from tests.support.device_signers import legacy_device_certificate, sign_as_device
from tests.support.paths import require_fixtures_dir
from tests.support.sealing import seal_file

OPENED = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
NOW = OPENED + timedelta(minutes=10)
WINDOW = (OPENED, NOW)
NO_TRUST = TrustSettings(anchors_pem="")


def _codes(path: Path, media_type: str) -> set[str]:
    return {f.code for f in metadata_findings(path, media_type=media_type, window=WINDOW)}


def _png_with(path: Path, texts: dict[str, str], *, itxt: bool = False) -> Path:
    info = PngInfo()
    for key, value in texts.items():
        if itxt:
            info.add_itxt(key, value, zip=True)
        else:
            info.add_text(key, value)
    Image.new("RGB", (64, 48), (20, 120, 200)).save(path, format="PNG", pnginfo=info)
    return path


def _jpeg_with(
    path: Path,
    *,
    software: str | None = None,
    taken: str | None = None,
    offset: str | None = None,
    xmp: bytes | None = None,
) -> Path:
    exif = Image.Exif()
    if software:
        exif[0x0131] = software
    if taken:
        details = exif.get_ifd(0x8769)
        details[0x9003] = taken
        if offset:
            details[0x9011] = offset
    image = Image.new("RGB", (64, 48), (200, 120, 20))
    extra = {"xmp": xmp} if xmp else {}
    image.save(path, format="JPEG", exif=exif.tobytes(), **extra)
    return path


def _exif_time(moment: datetime) -> str:
    return moment.strftime("%Y:%m:%d %H:%M:%S")


def test_plain_camera_captures_pass(tmp_path: Path) -> None:
    assert _codes(make_jpeg(tmp_path / "a.jpg", seed=1, size=(160, 120)), "image/jpeg") == set()
    assert _codes(make_png(tmp_path / "a.png", seed=1, size=(160, 120)), "image/png") == set()
    phone = _jpeg_with(
        tmp_path / "phone.jpg",
        software="HDR+ 1.0.620935097zd",
        taken=_exif_time(OPENED + timedelta(minutes=2)),
        offset="+00:00",
    )
    assert _codes(phone, "image/jpeg") == set()


@pytest.mark.parametrize(
    ("texts", "itxt"),
    [
        ({"parameters": "a cracked phone screen, Steps: 20, Sampler: Euler a"}, False),
        ({"prompt": '{"3": {"class_type": "KSampler"}}', "workflow": "{}"}, False),
        ({"Software": "NovelAI", "Comment": '{"steps": 28}'}, True),
    ],
    ids=["automatic1111-parameters", "comfyui-prompt", "itxt-novelai"],
)
def test_png_generator_text_chunks_are_flagged(
    tmp_path: Path, texts: dict[str, str], itxt: bool
) -> None:
    path = _png_with(tmp_path / "gen.png", texts, itxt=itxt)
    assert "generator_trace" in _codes(path, "image/png")


def test_png_xmp_naming_an_editor_is_flagged(tmp_path: Path) -> None:
    xmp = '<x:xmpmeta><rdf:Description xmp:CreatorTool="Adobe Photoshop 25.0"/></x:xmpmeta>'
    path = _png_with(tmp_path / "edited.png", {"XML:com.adobe.xmp": xmp}, itxt=True)
    assert _codes(path, "image/png") == {"editor_trace"}


@pytest.mark.parametrize(
    ("software", "code"),
    [("GIMP 2.10.34", "editor_trace"), ("Midjourney", "generator_trace")],
    ids=["gimp", "midjourney"],
)
def test_exif_software_naming_an_editor_or_generator_is_flagged(
    tmp_path: Path, software: str, code: str
) -> None:
    assert _codes(_jpeg_with(tmp_path / "s.jpg", software=software), "image/jpeg") == {code}


def test_jpeg_xmp_declaring_ai_source_is_flagged(tmp_path: Path) -> None:
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description '
        b'Iptc4xmpExt:DigitalSourceType="http://cv.iptc.org/newscodes/digitalsourcetype/'
        b'trainedAlgorithmicMedia"/></rdf:RDF></x:xmpmeta>'
    )
    assert _codes(_jpeg_with(tmp_path / "x.jpg", xmp=xmp), "image/jpeg") == {"generator_trace"}


@pytest.mark.parametrize(
    ("taken", "flagged"),
    [
        (OPENED - CLOCK_SKEW - timedelta(seconds=1), True),
        (OPENED - CLOCK_SKEW + timedelta(seconds=1), False),
        (NOW + CLOCK_SKEW - timedelta(seconds=1), False),
        (NOW + CLOCK_SKEW + timedelta(seconds=1), True),
        (OPENED - timedelta(days=7), True),
    ],
    ids=["1s-before-window", "1s-inside-start", "1s-inside-end", "1s-after-window", "last-week"],
)
def test_exif_time_with_offset_must_lie_in_the_session(
    tmp_path: Path, taken: datetime, flagged: bool
) -> None:
    local = taken.astimezone(UTC) + timedelta(hours=2)
    path = _jpeg_with(tmp_path / "t.jpg", taken=_exif_time(local), offset="+02:00")
    assert ("capture_time_outside_session" in _codes(path, "image/jpeg")) is flagged


@pytest.mark.parametrize(
    ("hours_before", "flagged"), [(10, False), (15, True)], ids=["10h-zone-unknown", "15h"]
)
def test_exif_time_without_offset_allows_any_time_zone(
    tmp_path: Path, hours_before: int, flagged: bool
) -> None:
    path = _jpeg_with(tmp_path / "z.jpg", taken=_exif_time(OPENED - timedelta(hours=hours_before)))
    assert ("capture_time_outside_session" in _codes(path, "image/jpeg")) is flagged


def test_video_metadata_is_not_parsed_as_an_image(tmp_path: Path) -> None:
    clip = make_mp4(tmp_path / "c.mp4", seed=1, seconds=0.2, size=(160, 120))
    assert _codes(clip, "video/mp4") == set()


def test_truncated_png_does_not_crash(tmp_path: Path) -> None:
    full = _png_with(tmp_path / "full.png", {"parameters": "x"}).read_bytes()
    cut = tmp_path / "cut.png"
    cut.write_bytes(full[:40])
    assert _codes(cut, "image/png") <= {"generator_trace"}


def test_foreign_c2pa_manifest_is_flagged(tmp_path: Path) -> None:
    signed = shutil.copy(require_fixtures_dir() / "c2pa-rs" / "C.jpg", tmp_path / "C.jpg")
    findings = screen_upload(
        Path(signed), media_type="image/jpeg", session_opened_at=OPENED, now=NOW, trust=NO_TRUST
    )
    assert "foreign_manifest" in {f.code for f in findings}


def test_file_without_manifest_passes_the_c2pa_screen(tmp_path: Path) -> None:
    plain = make_jpeg(tmp_path / "p.jpg", seed=3, size=(160, 120))
    findings = screen_upload(
        plain, media_type="image/jpeg", session_opened_at=OPENED, now=NOW, trust=NO_TRUST
    )
    assert findings == ()


@pytest.fixture(scope="module")
def home_keys(tmp_path_factory: pytest.TempPathFactory) -> KeyStore:
    home = tmp_path_factory.mktemp("intake-keys")
    initialize_home(Settings(home=home), quiet_dev_warning=True)
    return KeyStore(home / "keys")


def _fingerprints(keys: KeyStore) -> frozenset[str]:
    return frozenset(
        hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
        for cert in keys.service_certificates()
    )


def test_our_own_seal_is_already_sealed(home_keys: KeyStore, tmp_path: Path) -> None:
    sealed = seal_file(home_keys, make_jpeg(tmp_path / "s.jpg", seed=4), "image/jpeg")
    findings = screen_upload(
        sealed,
        media_type="image/jpeg",
        session_opened_at=OPENED,
        now=NOW,
        trust=TrustSettings(anchors_pem=home_keys.trust_list().pem),
        sealing_fingerprints=_fingerprints(home_keys),
    )
    assert "already_sealed" in {f.code for f in findings}


def test_device_signed_manifest_is_foreign_even_when_c2pa_trusts_it(
    home_keys: KeyStore, tmp_path: Path
) -> None:
    """A buyer app enrolled before the EKU change signs a claim c2pa reads Trusted."""
    device_ca = home_keys.load_ca("device-ca")
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = legacy_device_certificate(
        device_ca, key.public_key(), device_id="app-old", kind="buyer", now=datetime.now(UTC)
    )
    signed = sign_as_device(
        make_jpeg(tmp_path / "staged.jpg", seed=5),
        tmp_path / "signed.jpg",
        private_key=key,
        chain=(leaf, *device_ca.chain_to_root[:-1]),
        settings={"trust": {"trust_anchors": home_keys.trust_list().pem}},
    )
    findings = screen_upload(
        signed,
        media_type="image/jpeg",
        session_opened_at=OPENED,
        now=NOW,
        trust=TrustSettings(anchors_pem=home_keys.trust_list().pem),
        sealing_fingerprints=_fingerprints(home_keys),
    )
    codes = {f.code for f in findings}
    assert "foreign_manifest" in codes
    assert "already_sealed" not in codes


def test_damaged_c2pa_data_is_still_a_foreign_manifest(home_keys: KeyStore, tmp_path: Path) -> None:
    """One byte in the claim's CBOR must not turn a signed file into a "live capture"."""
    device_ca = home_keys.load_ca("device-ca")
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = legacy_device_certificate(
        device_ca, key.public_key(), device_id="app-dmg", kind="buyer", now=datetime.now(UTC)
    )
    signed = sign_as_device(
        make_jpeg(tmp_path / "staged.jpg", seed=6),
        tmp_path / "signed.jpg",
        private_key=key,
        chain=(leaf, *device_ca.chain_to_root[:-1]),
    )
    data = bytearray(signed.read_bytes())
    claim = data.index(b"cbor", data.index(b"c2pa.claim"))
    data[claim + 4] = 0xFF  # the claim map's first byte: a CBOR "break" where a map belongs
    damaged = tmp_path / "damaged.jpg"
    damaged.write_bytes(bytes(data))
    trust = TrustSettings(anchors_pem=home_keys.trust_list().pem)
    with pytest.raises(CorruptMediaError):
        read_evidence(damaged, trust=trust)
    findings = screen_upload(
        damaged, media_type="image/jpeg", session_opened_at=OPENED, now=NOW, trust=trust
    )
    assert "foreign_manifest" in {f.code for f in findings}


def test_reference_to_a_remote_manifest_is_a_foreign_manifest(tmp_path: Path) -> None:
    remote = shutil.copy(require_fixtures_dir() / "c2pa-rs" / "cloud.jpg", tmp_path / "cloud.jpg")
    findings = screen_upload(
        Path(remote), media_type="image/jpeg", session_opened_at=OPENED, now=NOW, trust=NO_TRUST
    )
    assert "foreign_manifest" in {f.code for f in findings}
