"""dlib's frontal face detector limited to its finest image-pyramid levels.

dlib's HOG detector looks for faces at every level of an image pyramid (each level 5/6 the size
of the one before) until its 80x80 window no longer fits. A presence check wants the face it
already knows, at about the size it knows: on a frame scaled so that this face is ~75 px high,
most of the pyramid looks for faces larger than the applicant's. The two finest levels find
the face from ~0.73 to ~1.3 times that size (the sizes a presence check accepts as the same
face; measured on test photos, tests/identity/test_hog.py), with the same five filters, in
about a quarter of the time the whole pyramid takes at the full check's scale
(`pytest -m bench -s tests/bench/test_identity_bench.py`). Its boxes are the same detector's,
from a finer level where the whole pyramid may have preferred a coarser one (dlib's boxes come
in steps of 6/5).

The limit is the scanner's `max_pyramid_levels`, a field of the detector's own serialization
(dlib/image_processing/scan_fhog_pyramid.h). The Python API has no setter, so the detector is
saved, that field rewritten, and the result loaded back. Every field before it is checked to be
what dlib's frontal detector has; anything else is a `ModelFileError`.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from identity.dlib_format import ModelFileError, Reader, integer_bytes

# What dlib's frontal face detector's header holds, in order, up to the field rewritten here:
# object_detector version 2, scan_fhog_pyramid version 1, two empty members (the feature
# extractor's, the feature pyramid's), cell size 8, padding 0, an 80x80 window.
FRONTAL_HEADER = (2, 1, 0, 0, 8, 0, 80, 80)
DETECTOR_FILTERS = 5


def limited_levels(data: bytes, levels: int) -> bytes:
    """The serialized frontal detector `data` with its pyramid limited to `levels` levels."""
    if levels < 1:
        raise ValueError(f"levels must be >= 1, not {levels}")
    reader = Reader(data)
    header = tuple(reader.integer() for _ in FRONTAL_HEADER)
    if header != FRONTAL_HEADER:
        raise ModelFileError(f"not dlib's frontal face detector: header {header}")
    start = reader.pos
    current = reader.integer()
    if current < 1:
        raise ModelFileError(f"bad pyramid level limit {current}")
    return data[:start] + integer_bytes(levels) + data[reader.pos :]


def load(full: Any, levels: int) -> Any:
    """A new detector (dlib.fhog_object_detector): `full`, dlib's frontal face detector
    (`dlib.get_frontal_face_detector()`, ~0.3 s to build), on `levels` levels (~2 ms). Not
    thread-safe, like dlib's own: one per thread."""
    import dlib

    with tempfile.TemporaryDirectory(prefix="notarylink-hog-") as folder:
        path = os.path.join(folder, "frontal.svm")
        full.save(path)
        with open(path, "rb") as saved:
            data = saved.read()
        with open(path, "wb") as limited:
            limited.write(limited_levels(data, levels))
        detector = dlib.fhog_object_detector(path)
    if detector.num_detectors != DETECTOR_FILTERS:
        raise ModelFileError(f"{detector.num_detectors} filters where 5 were expected")
    return detector


__all__ = ["DETECTOR_FILTERS", "FRONTAL_HEADER", "limited_levels", "load"]
