"""The frontal detector on its finest pyramid levels: same detections in its size range,
none beyond it, and a serialization it refuses when it is not dlib's frontal detector."""

from __future__ import annotations

import os
from typing import Any

import cv2
import numpy as np
import pytest

from identity import hog
from identity.dlib_format import ModelFileError, Reader
from identity.faces import Image
from tests.identity.conftest import astronaut, grace_hopper

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def full() -> Any:
    import dlib

    return dlib.get_frontal_face_detector()


@pytest.fixture(scope="module")
def saved(full: Any, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = os.path.join(tmp_path_factory.mktemp("hog"), "frontal.svm")
    full.save(path)
    with open(path, "rb") as f:
        return f.read()


def _level_limit(data: bytes) -> int:
    reader = Reader(data)
    for _ in hog.FRONTAL_HEADER:
        reader.integer()
    return reader.integer()


def test_only_the_level_limit_changes(saved: bytes) -> None:
    assert _level_limit(saved) == 1000  # dlib's default: as many levels as fit
    two = hog.limited_levels(saved, 2)
    assert _level_limit(two) == 2
    assert len(two) == len(saved) - 1  # 1000 takes two bytes, 2 one
    assert hog.limited_levels(saved, 1000) == saved
    assert hog.limited_levels(two, 1000) == saved


def test_refuses_what_is_not_the_frontal_detector(saved: bytes) -> None:
    with pytest.raises(ValueError, match="levels"):
        hog.limited_levels(saved, 0)
    window = bytearray(saved)
    assert window[13] == 80  # the window's height (integers: a size byte, then the value)
    window[13] = 64
    with pytest.raises(ModelFileError, match="not dlib's frontal face detector"):
        hog.limited_levels(bytes(window), 2)
    with pytest.raises(ModelFileError, match="truncated"):
        hog.limited_levels(saved[:9], 2)


def _face_scaled(photo: Image, full: Any, height: int) -> Image:
    """`photo` scaled so that the detector's box of its face is about `height` px."""
    (rect,) = full(photo, 1)
    scale = height / rect.height()
    return np.ascontiguousarray(
        cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    )


def _boxes(detector: Any, image: Image) -> list[tuple[int, int, int, int]]:
    return [(r.top(), r.right(), r.bottom(), r.left()) for r in detector(image, 0)]


@pytest.mark.parametrize("photo", [grace_hopper, lambda: np.ascontiguousarray(astronaut()[:300])])
def test_two_levels_find_the_face_in_their_range_and_none_beyond(full: Any, photo: Any) -> None:
    two = hog.load(full, 2)
    assert two.num_detectors == full.num_detectors == 5
    for height in (55, 75, 95):  # a presence check's face at 75 px: -27 % to +27 %
        image = _face_scaled(photo(), full, height)
        (found,) = _boxes(two, image)
        (reference,) = _boxes(full, image)
        # The same face; the box from a finer level where the whole pyramid preferred a
        # coarser one (dlib's boxes come in steps of 6/5).
        top, right, bottom, left = found
        rtop, rright, rbottom, rleft = reference
        size = rbottom - rtop
        assert abs((top + bottom) - (rtop + rbottom)) / 2 < 0.15 * size, height
        assert abs((left + right) - (rleft + rright)) / 2 < 0.15 * size, height
        assert 1 / 1.25 < (bottom - top) / size < 1.25, height
    near = _face_scaled(photo(), full, 170)  # twice as near: beyond two levels
    assert _boxes(full, near) and not _boxes(two, near)
