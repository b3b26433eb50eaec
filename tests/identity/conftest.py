"""Shared, session-scoped face data: encodings are computed once per run."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from identity.consent import Consent
from identity.faces import FaceWorker, Image
from identity.id_document import DocumentKind, IdFace, intake_id_photo
from identity.matcher import Frame
from tests.support import TESTDATA, testdata_or_skip


def make_consent(case_ref: str = "case-1", subject: str = "applicant-1") -> Consent:
    return Consent.record(case_ref, subject, text_version="consent-v1")


@pytest.fixture
def consent() -> Consent:
    return make_consent()


@pytest.fixture(scope="session")
def worker() -> Iterator[FaceWorker]:
    with FaceWorker(max_workers=2) as pool:
        yield pool


def jpeg_bytes(image: Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    PILImage.fromarray(image).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def astronaut() -> Image:
    from skimage import data

    return np.ascontiguousarray(data.astronaut())


def grace_hopper() -> Image:
    import matplotlib.cbook

    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as handle:
        return np.ascontiguousarray(np.asarray(PILImage.open(handle).convert("RGB")))


def face_path(name: str) -> Path:
    return testdata_or_skip(f"faces/{name}")


@pytest.fixture(scope="session")
def id_faces() -> Callable[[str], IdFace]:
    """IdFace of a photo in ../shared/testdata/faces (skips when absent), cached."""
    cache: dict[str, IdFace] = {}
    consent = make_consent("case-fixtures")

    def get(name: str) -> IdFace:
        if name not in cache:
            data = face_path(name).read_bytes()
            cache[name] = intake_id_photo(data, consent, kind=DocumentKind.PASSPORT)
        return cache[name]

    return get


@pytest.fixture(scope="session")
def installed_faces() -> dict[str, IdFace]:
    """The photos installed packages ship: always available."""
    consent = make_consent("case-installed")
    # The astronaut photo: HOG also finds a "face" on the mission patch (lower right);
    # the top 300 rows hold her face only.
    top = np.ascontiguousarray(astronaut()[:300])
    return {
        "astronaut": intake_id_photo(jpeg_bytes(top), consent, kind=DocumentKind.PASSPORT),
        "grace_hopper": intake_id_photo(
            jpeg_bytes(grace_hopper()), consent, kind=DocumentKind.CN_RESIDENT_ID
        ),
    }


@pytest.fixture(scope="session")
def clip_frames() -> list[Frame]:
    """Every frame of the Lin-Manuel Miranda clip, media time from 0 (decoded once)."""
    import av

    path = testdata_or_skip("video/lin-manuel-miranda-clip.mp4")
    frames: list[Frame] = []
    with av.open(str(path)) as container:
        for picture in container.decode(video=0):
            frames.append(Frame(picture.to_ndarray(format="rgb24"), float(picture.time or 0)))
    start = frames[0].media_time
    return [Frame(f.image, f.media_time - start) for f in frames]


__all__ = ["TESTDATA"]
