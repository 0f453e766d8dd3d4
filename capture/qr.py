"""Parcel label: a QR code holding the signed label token, with the order number in clear."""

from __future__ import annotations

import io

import qrcode
import qrcode.constants
from PIL import Image, ImageDraw, ImageFont

__all__ = ["render_label_png"]

_INCH_PX_203 = 203


def render_label_png(
    token: str, *, order_id: str, dpi: int = _INCH_PX_203, base_url: str = ""
) -> bytes:
    """Render a 4x6 inch label as PNG bytes.

    Args:
        token: the signed label token the QR carries.
        order_id: printed in clear text under the code.
        dpi: printer resolution (203 or 300).
        base_url: optional prefix, printed as a hint for buyers without the app.

    Returns:
        PNG bytes.
    """
    width, height = 4 * dpi, 6 * dpi
    label = Image.new("L", (width, height), 255)
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    code.add_data(token)
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
    hint = "Scan with your OrderSeal app when you open the parcel"
    draw.text((width // 2, y + dpi // 4), hint, fill=0, font=small, anchor="mt")
    if base_url:
        draw.text((width // 2, y + dpi // 2), base_url, fill=0, font=small, anchor="mt")
    out = io.BytesIO()
    label.save(out, format="PNG", dpi=(dpi, dpi))
    return out.getvalue()
