"""Signature images as a canvas makes them: strokes on a transparent PNG, as data URLs."""

from __future__ import annotations

import base64
import io

from PIL import Image, ImageDraw


def drawn_png(width: int = 600, height: int = 200, strokes: bool = True) -> bytes:
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    if strokes:
        draw = ImageDraw.Draw(image)
        draw.line([(20, 150), (120, 40), (200, 160), (320, 50), (450, 140)], (20, 20, 40, 255), 4)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def data_url(png: bytes, kind: str = "image/png") -> str:
    return f"data:{kind};base64,{base64.b64encode(png).decode()}"
