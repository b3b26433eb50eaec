"""ID intake: a photo of a passport data page or a resident ID card → the face template.

The image is checked by content (decoded with Pillow, never trusted by name or MIME type),
with limits on bytes and pixels checked from the header before the pixels are decoded. The
face on it is located and encoded; no face, several faces, a face too small or a face cut
by the image edge is refused with a reason the applicant can act on.

Passports often carry a second, smaller "ghost" portrait of the holder as a security
feature: smaller faces that are the same person as the main portrait are ignored (and
counted); any other extra face refuses the photo.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from enum import StrEnum

import cv2
import numpy as np
from PIL import Image as PILImage
from PIL import ImageOps, UnidentifiedImageError

from identity.consent import Consent, Purpose, require_consent
from identity.faces import (
    Encoding,
    FaceBox,
    FaceWorker,
    Image,
    ModelInfo,
    detect,
    encode,
    face_distance,
    model_info,
    resize,
)
from identity.policy import MatchPolicy


class DocumentKind(StrEnum):
    PASSPORT = "passport"
    CN_RESIDENT_ID = "cn_resident_id"


class RefusalReason(StrEnum):
    NOT_AN_IMAGE = "not_an_image"
    UNSUPPORTED_FORMAT = "unsupported_format"
    TOO_LARGE = "too_large"
    TOO_SMALL = "too_small"
    NO_FACE = "no_face"
    SEVERAL_FACES = "several_faces"
    FACE_TOO_SMALL = "face_too_small"
    FACE_CUT_OFF = "face_cut_off"


# What the applicant is told (English, Chinese).
ADVICE: dict[RefusalReason, tuple[str, str]] = {
    RefusalReason.NOT_AN_IMAGE: ("The file is not a picture.", "文件不是图片。"),
    RefusalReason.UNSUPPORTED_FORMAT: (
        "Please send a JPEG, PNG or WebP photo.",
        "请上传 JPEG、PNG 或 WebP 格式的照片。",
    ),
    RefusalReason.TOO_LARGE: ("The photo is too large.", "照片过大。"),
    RefusalReason.TOO_SMALL: (
        "The photo is too small: photograph the document closer.",
        "照片分辨率过低，请靠近拍摄证件。",
    ),
    RefusalReason.NO_FACE: (
        "No face was found: photograph the page with the portrait, flat and well lit.",
        "未检测到人像：请拍摄带有照片的一页，保持平整、光线充足。",
    ),
    RefusalReason.SEVERAL_FACES: (
        "Several faces were found: photograph only the ID document.",
        "检测到多张人脸：请只拍摄证件本身。",
    ),
    RefusalReason.FACE_TOO_SMALL: (
        "The portrait is too small: photograph the document closer.",
        "证件照片过小，请靠近拍摄。",
    ),
    RefusalReason.FACE_CUT_OFF: (
        "The portrait is cut off by the edge of the photo: photograph the whole document.",
        "证件照片被裁切，请完整拍摄证件。",
    ),
}


class IntakeRefused(ValueError):
    def __init__(self, reason: RefusalReason, detail: str = "") -> None:
        english, chinese = ADVICE[reason]
        super().__init__(f"{reason}: {english}" + (f" ({detail})" if detail else ""))
        self.reason = reason
        self.advice_en = english
        self.advice_zh = chinese
        self.detail = detail


ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})


@dataclass(frozen=True, slots=True)
class IntakeLimits:
    max_bytes: int = 15 * 1024 * 1024
    max_pixels: int = 40_000_000
    min_side: int = 240  # shorter side of the photo
    detect_side: int = 1024  # detection runs on a copy at most this long
    min_face_px: int = 60  # height of the portrait in the photo
    ghost_ratio: float = 0.6  # smaller faces up to this fraction of the portrait may be ghosts


@dataclass(frozen=True, slots=True)
class IdFace:
    """The face of an ID document: what the live match compares against."""

    kind: DocumentKind
    template: Encoding
    crop_jpeg: bytes  # the portrait with a margin, for the notary's console
    box: FaceBox
    image_width: int
    image_height: int
    ghosts_ignored: int
    model: ModelInfo


def load_image(data: bytes, limits: IntakeLimits | None = None) -> Image:
    """Decode an uploaded photo by content into RGB, EXIF orientation applied."""
    limits = limits or IntakeLimits()
    if len(data) > limits.max_bytes:
        raise IntakeRefused(RefusalReason.TOO_LARGE, f"{len(data)} bytes")
    if not data:
        raise IntakeRefused(RefusalReason.NOT_AN_IMAGE, "empty file")
    try:
        with PILImage.open(io.BytesIO(data)) as opened:
            if opened.format not in ACCEPTED_FORMATS:
                raise IntakeRefused(RefusalReason.UNSUPPORTED_FORMAT, str(opened.format))
            width, height = opened.size  # from the header: nothing decoded yet
            if width * height > limits.max_pixels:
                raise IntakeRefused(RefusalReason.TOO_LARGE, f"{width}x{height} pixels")
            if min(width, height) < limits.min_side:
                raise IntakeRefused(RefusalReason.TOO_SMALL, f"{width}x{height} pixels")
            if opened.format == "JPEG" and b"\xff\xd9" not in data[-65536:]:
                raise IntakeRefused(RefusalReason.NOT_AN_IMAGE, "truncated JPEG")
            upright = ImageOps.exif_transpose(opened)
            rgb = upright.convert("RGB")
    except (UnidentifiedImageError, PILImage.DecompressionBombError) as exc:
        raise IntakeRefused(RefusalReason.NOT_AN_IMAGE, type(exc).__name__) from None
    except OSError as exc:  # truncated or corrupt data
        raise IntakeRefused(RefusalReason.NOT_AN_IMAGE, str(exc)) from None
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))


def crop_jpeg(image: Image, box: FaceBox, margin: float = 0.3) -> bytes:
    height, width = image.shape[:2]
    dy, dx = round(box.height * margin), round(box.width * margin)
    top, bottom = max(0, box.top - dy), min(height, box.bottom + dy)
    left, right = max(0, box.left - dx), min(width, box.right + dx)
    bgr = cv2.cvtColor(image[top:bottom, left:right], cv2.COLOR_RGB2BGR)
    ok, buffer = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        raise RuntimeError("JPEG encoding of the face crop failed")
    return bytes(buffer.tobytes())


def locate_id_face(
    image: Image,
    consent: Consent,
    *,
    kind: DocumentKind,
    limits: IntakeLimits | None = None,
    policy: MatchPolicy | None = None,
) -> IdFace:
    """Find and encode the single portrait of an ID image (CPU-bound: run it in a worker)."""
    require_consent(consent, Purpose.ID_PHOTO)
    limits = limits or IntakeLimits()
    policy = policy or MatchPolicy()
    height, width = image.shape[:2]
    if min(width, height) < limits.min_side:
        raise IntakeRefused(RefusalReason.TOO_SMALL, f"{width}x{height} pixels")
    scale = min(1.0, limits.detect_side / max(width, height))
    small = resize(image, scale)
    boxes = detect(small, scale=1.0, upsample=0) or detect(small, scale=1.0, upsample=1)
    boxes = [_scale_box(b, 1 / scale, width, height) for b in boxes]
    if not boxes:
        raise IntakeRefused(RefusalReason.NO_FACE)
    boxes.sort(key=lambda b: b.height, reverse=True)
    main = boxes[0]
    # Refusals that need no encoding come first: an encoding costs ~0.1 s of CPU.
    if main.height < limits.min_face_px:
        raise IntakeRefused(RefusalReason.FACE_TOO_SMALL, f"{main.height} px high")
    if main.touches_edge(width, height, margin=max(2, main.height // 50)):
        raise IntakeRefused(RefusalReason.FACE_CUT_OFF)
    ghosts = 0
    if len(boxes) > 1:
        if any(b.height > main.height * limits.ghost_ratio for b in boxes[1:]):
            raise IntakeRefused(RefusalReason.SEVERAL_FACES, f"{len(boxes)} faces")
        encodings = encode(image, boxes)
        for other in encodings[1:]:
            if not policy.matches(face_distance(encodings[0], other)):
                raise IntakeRefused(
                    RefusalReason.SEVERAL_FACES, f"{len(boxes)} faces, not all the holder's"
                )
        ghosts = len(boxes) - 1
        template = encodings[0]
    else:
        template = encode(image, [main])[0]
    return IdFace(
        kind=kind,
        template=template,
        crop_jpeg=crop_jpeg(image, main),
        box=main,
        image_width=width,
        image_height=height,
        ghosts_ignored=ghosts,
        model=model_info(),
    )


def _scale_box(box: FaceBox, factor: float, width: int, height: int) -> FaceBox:
    return FaceBox(
        round(box.top * factor),
        round(box.right * factor),
        round(box.bottom * factor),
        round(box.left * factor),
    ).clipped(width, height)


def intake_id_photo(
    data: bytes,
    consent: Consent,
    *,
    kind: DocumentKind,
    limits: IntakeLimits | None = None,
    policy: MatchPolicy | None = None,
) -> IdFace:
    """Uploaded bytes → IdFace, or IntakeRefused (synchronous, CPU-bound)."""
    require_consent(consent, Purpose.ID_PHOTO)
    return locate_id_face(
        load_image(data, limits), consent, kind=kind, limits=limits, policy=policy
    )


async def intake_id_photo_async(
    data: bytes,
    consent: Consent,
    *,
    kind: DocumentKind,
    worker: FaceWorker,
    limits: IntakeLimits | None = None,
    policy: MatchPolicy | None = None,
) -> IdFace:
    """`intake_id_photo` in the face worker pool, off the event loop."""
    require_consent(consent, Purpose.ID_PHOTO)
    return await worker.run(_intake, data, consent, kind, limits, policy)


async def intake_camera_still_async(
    image: Image,
    consent: Consent,
    *,
    kind: DocumentKind,
    worker: FaceWorker,
    limits: IntakeLimits | None = None,
    policy: MatchPolicy | None = None,
) -> IdFace:
    """A still of the document held to the camera (a decoded RGB frame)."""
    require_consent(consent, Purpose.ID_PHOTO)
    return await worker.run(_locate, np.ascontiguousarray(image), consent, kind, limits, policy)


def _intake(
    data: bytes,
    consent: Consent,
    kind: DocumentKind,
    limits: IntakeLimits | None,
    policy: MatchPolicy | None,
) -> IdFace:
    return intake_id_photo(data, consent, kind=kind, limits=limits, policy=policy)


def _locate(
    image: Image,
    consent: Consent,
    kind: DocumentKind,
    limits: IntakeLimits | None,
    policy: MatchPolicy | None,
) -> IdFace:
    return locate_id_face(image, consent, kind=kind, limits=limits, policy=policy)


__all__ = [
    "ADVICE",
    "DocumentKind",
    "IdFace",
    "IntakeLimits",
    "IntakeRefused",
    "RefusalReason",
    "intake_camera_still_async",
    "intake_id_photo",
    "intake_id_photo_async",
    "load_image",
    "locate_id_face",
]
