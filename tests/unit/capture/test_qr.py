"""The parcel label's QR: our capture URL, readable by a real decoder at 203 dpi, crumpled too.

The decoder is zxing-cpp (what the demo and the server's frame sampling use); the page uses
jsQR. Error correction stays at M or better, so a crease or a smudge still decodes.
"""

from __future__ import annotations

import io

import pytest
import qrcode
import qrcode.constants
import zxingcpp
from PIL import Image

from capture.label_url import label_token_from_payload
from capture.qr import render_label_pdf, render_label_png
from keys.attestation import b64url_encode
from tests.support.crumple import crumple

BASE = "https://orderseal.example.com"


def _token() -> str:
    """A token as long as a real one for a long order id (the signature bytes are not checked)."""
    payload = (
        b'{"o":"ORD-2026-12-02-0000000000000000000000000000",'
        b'"s":"ss_AbCdEfGhIjKlMnOp","exp":1924992000}'
    )
    return f"OS1.{b64url_encode(payload)}.{b64url_encode(bytes(range(64)))}"


def _qr(image: Image.Image) -> list[zxingcpp.Barcode]:
    return [
        r
        for r in zxingcpp.read_barcodes(image)
        if r.format == zxingcpp.BarcodeFormat.QRCode and r.valid
    ]


@pytest.fixture(scope="module")
def label_203() -> Image.Image:
    png = render_label_png(_token(), order_id="ORD-1", dpi=203, base_url=BASE)
    return Image.open(io.BytesIO(png))


def test_the_label_qr_is_our_capture_url_with_the_token_in_the_fragment(
    label_203: Image.Image,
) -> None:
    assert label_203.size == (4 * 203, 6 * 203)
    assert label_203.info["dpi"] == pytest.approx((203, 203), abs=0.5)
    (code,) = _qr(label_203)
    assert code.text == f"{BASE}/capture#t={_token()}"
    assert label_token_from_payload(code.text, base_url=BASE) == _token()
    assert code.ec_level in {"M", "Q", "H"}


def test_every_module_is_whole_printer_dots_at_203_dpi(label_203: Image.Image) -> None:
    """A module narrower than 3 dots smears on a thermal head; ours are at least that."""
    (code,) = _qr(label_203)
    position = code.position
    side_px = abs(position.top_right.x - position.top_left.x)
    layout = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
    layout.add_data(code.text)
    layout.make(fit=True)
    assert layout.version is not None
    modules = 17 + 4 * layout.version
    assert side_px / modules >= 3


@pytest.mark.parametrize(
    ("seed", "tilt", "blur_px", "noise", "width_px"),
    [
        (1, 0.05, 1.5, 12.0, 0),
        (2, 0.08, 2.5, 20.0, 0),
        (3, 0.10, 2.0, 25.0, 0),
        (4, 0.06, 1.0, 15.0, 480),  # a 480-pixel-wide camera frame of the whole label
    ],
    ids=["slight", "tilted-blurred", "steep-noisy", "camera-frame"],
)
def test_the_label_still_decodes_crumpled_and_blurred(
    label_203: Image.Image, seed: int, tilt: float, blur_px: float, noise: float, width_px: int
) -> None:
    seen = crumple(label_203, seed=seed, tilt=tilt, blur_px=blur_px, noise=noise, width_px=width_px)
    (code,) = _qr(seen)
    assert label_token_from_payload(code.text, base_url=BASE) == _token()


def test_the_degradation_is_strong_enough_to_break_a_code_at_some_point(
    label_203: Image.Image,
) -> None:
    """The crumple helper is not a no-op: a heavy blur defeats the decoder."""
    assert _qr(crumple(label_203, blur_px=12.0, noise=40.0)) == []


def test_the_pdf_label_carries_the_same_url() -> None:
    pdf = render_label_pdf(_token(), order_id="ORD-1", dpi=203, base_url=BASE)
    assert pdf.startswith(b"%PDF")


def test_without_a_base_url_the_label_carries_the_bare_token() -> None:
    png = render_label_png(_token(), order_id="ORD-1", dpi=203)
    (code,) = _qr(Image.open(io.BytesIO(png)))
    assert code.text == _token()
