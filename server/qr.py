"""QR codes of ticket tracking URLs, with the qrcode library."""

from __future__ import annotations

import io

import qrcode
import qrcode.image.svg
from qrcode.constants import ERROR_CORRECT_M


def _code(data: str) -> qrcode.QRCode:
    # Medium error correction survives a smudged thermal print; border 4 is the standard quiet zone.
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=8, border=4)
    code.add_data(data)
    code.make(fit=True)
    return code


def qr_svg(data: str) -> bytes:
    """A standalone SVG document (vector: sharp at any printer resolution)."""
    image = _code(data).make_image(image_factory=qrcode.image.svg.SvgPathImage)
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue()


def qr_png(data: str) -> bytes:
    """A black-and-white PNG."""
    image = _code(data).make_image(fill_color="black", back_color="white")
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue()
