"""face_recognition imports and works in this environment (setuptools<82, dlib-bin, models).

With setuptools >= 82 `import face_recognition` prints a hint and exits the process with code 0,
which would make every identity test vanish silently: this runs it in a child process and checks
that it really computed something.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit

PROBE = r"""
import json, numpy as np
import face_recognition
from skimage import data
image = np.ascontiguousarray(data.astronaut())
boxes = face_recognition.face_locations(image, number_of_times_to_upsample=1)
encodings = face_recognition.face_encodings(image, boxes)
print(json.dumps({"faces": len(boxes), "dims": [len(e) for e in encodings], "boxes": boxes}))
"""


def test_face_recognition_finds_and_encodes_a_real_face() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip(), f"face_recognition exited without output: {result.stderr}"
    found = json.loads(result.stdout.strip().splitlines()[-1])
    # The astronaut's face, and (HOG's known false positive) sometimes the mission patch.
    assert found["faces"] >= 1
    assert set(found["dims"]) == {128}
    # Her face is centred near row 120, column 220 of the 512x512 photo.
    centres = [
        ((top + bottom) / 2, (left + right) / 2) for top, right, bottom, left in found["boxes"]
    ]
    assert any(90 <= row <= 150 and 190 <= col <= 250 for row, col in centres), centres
