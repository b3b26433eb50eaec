"""Real photos framed the way a webcam frames a face (shared by the liveness tests)."""

from __future__ import annotations

import cv2
import numpy as np

from identity.faces import Image, detect


def headshot(photo: Image) -> Image:
    """The photo cropped around its (first) face and scaled to 640x480: the face ~190 px high,
    as in a webcam picture of someone sitting at their screen."""
    box = detect(photo, upsample=1)[0]
    cy, cx = (box.top + box.bottom) // 2, (box.left + box.right) // 2
    half = int(box.height * 1.3)
    width = half * 8 // 3
    crop = photo[max(0, cy - half) : cy + half, max(0, cx - width // 2) : cx + width // 2]
    return np.ascontiguousarray(cv2.resize(crop, (640, 480), interpolation=cv2.INTER_AREA))
