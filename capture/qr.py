"""Parcel label: a QR code holding our capture page's URL with the signed label token in its
fragment (``capture.label_url``; any phone camera opens it), the order number in clear.

Rendered as PNG or as a one-page 4x6 inch PDF (bilevel, CCITT G4: lossless, printer-sized).
"""

from __future__ import annotations

import io

import qrcode
import qrcode.constants
from PIL import Image, ImageDraw, ImageFont

from capture.label_url import label_url

__all__ = ["LABEL_DPIS", "render_label_pdf", "render_label_png"]

_INCH_PX_203 = 203
#: Thermal label printer resolutions we render for.
LABEL_DPIS = (203, 300)


def render_label_png(
    token: str, *, order_id: str, dpi: int = _INCH_PX_203, base_url: str = ""
) -> bytes:
    """Render a 4x6 inch label as PNG bytes.

    Args:
        token: the signed label token the QR carries.
        order_id: printed in clear text under the code.
        dpi: printer resolution (203 or 300).
        base_url: our public base URL: the QR carries ``<base_url>/capture#t=<token>`` and
            the base URL is printed under it. Empty: the bare token (labels before the URL).

    Returns:
        PNG bytes.
    """
    out = io.BytesIO()
    _render(token, order_id=order_id, dpi=dpi, base_url=base_url).save(
        out, format="PNG", dpi=(dpi, dpi)
    )
    return out.getvalue()


def render_label_pdf(
    token: str, *, order_id: str, dpi: int = _INCH_PX_203, base_url: str = ""
) -> bytes:
    """Render the same label as a one-page PDF whose page is exactly 4x6 inches.

    The page holds one bilevel image at ``dpi`` (CCITT G4, lossless), so a printer at that
    resolution prints every QR module on whole dots.

    Returns:
        PDF bytes.
    """
    image = _render(token, order_id=order_id, dpi=dpi, base_url=base_url)
    out = io.BytesIO()
    image.convert("1", dither=Image.Dither.NONE).save(
        out, format="PDF", resolution=float(dpi), title=f"OrderSeal label {order_id}"
    )
    return out.getvalue()


def _render(token: str, *, order_id: str, dpi: int, base_url: str) -> Image.Image:
    """Draw the 4x6 inch label (greyscale), ``4*dpi`` by ``6*dpi`` pixels."""
    width, height = 4 * dpi, 6 * dpi
    label = Image.new("L", (width, height), 255)
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    code.add_data(label_url(base_url, token) if base_url else token)
    code.make(fit=True)
    qr_image = code.make_image(fill_color="black", back_color="white").get_image().convert("L")
    side = int(width * 0.85)
    qr_image = qr_image.resize((side, side), Image.Resampling.NEAREST)
    label.paste(qr_image, ((width - side) // 2, dpi // 3))
    draw = ImageDraw.Draw(label)
    font = ImageFont.load_default(size=max(14, dpi // 7))
    small = ImageFont.load_default(size=max(10, dpi // 12))
    y = dpi // 3 + side + dpi // 6
    draw.text((width // 2, y), f"ORDER {order_id}", fill=0, font=font, anchor="mt")
    hint = "Scan with your phone camera when you open the parcel"
    draw.text((width // 2, y + dpi // 4), hint, fill=0, font=small, anchor="mt")
    if base_url:
        draw.text((width // 2, y + dpi // 2), base_url, fill=0, font=small, anchor="mt")
    return label
