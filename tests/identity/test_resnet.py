"""identity.resnet gives dlib's encodings: side by side with dlib's own encoder on real face
chips (cut as identity.faces cuts them), noise and flat chips; same distances, same 0.6
decisions; bad chips and bad model files fail clearly."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage

from identity.encoders import Chip
from identity.faces import detect, face_chips, face_distance
from identity.resnet import ModelFileError, ResNetEncoder, limit_blas_threads, model_path
from tests import support
from tests.identity.conftest import astronaut, grace_hopper

pytestmark = pytest.mark.unit

COMPONENT_TOLERANCE = 1e-4
DISTANCE_TOLERANCE = 1e-4
THRESHOLD = 0.6  # face_recognition's match threshold


@pytest.fixture(scope="module")
def numpy_encoder() -> ResNetEncoder:
    return ResNetEncoder()


@pytest.fixture(scope="module")
def dlib_encoder() -> Any:
    """dlib's own encoder: the reference (the server runs the numpy one)."""
    import dlib

    return dlib.face_recognition_model_v1(str(model_path()))


def _dlib_encodings(dlib_encoder: Any, chips: list[Chip]) -> list[np.ndarray]:
    found = dlib_encoder.compute_face_descriptor([np.ascontiguousarray(c) for c in chips], 0)
    return [np.asarray(e, dtype=np.float64) for e in found]


def _chips_of(image: np.ndarray) -> list[Chip]:
    return face_chips(image, detect(image, upsample=1))


@pytest.fixture(scope="module")
def installed_chips() -> list[Chip]:
    """Faces in the photos installed packages ship (always there)."""
    # The astronaut photo: the top 300 rows hold her face only (HOG also "finds" the patch).
    chips = _chips_of(grace_hopper()) + _chips_of(np.ascontiguousarray(astronaut()[:300]))
    assert len(chips) == 2
    return chips


@pytest.fixture(scope="module")
def testdata_chips() -> list[Chip]:
    """Every face HOG finds in ../shared/testdata/faces (skips where that is absent)."""
    folder = support.testdata_or_skip("faces")
    chips: list[Chip] = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() in (".jpg", ".jpeg", ".png"):
            image = np.ascontiguousarray(np.asarray(PILImage.open(path).convert("RGB")))
            chips.extend(_chips_of(image))
    if len(chips) < 5:
        pytest.skip(f"only {len(chips)} faces found in {folder}")
    return chips


def _compare(numpy_encoder: ResNetEncoder, dlib_encoder: Any, chips: list[Chip]) -> None:
    ours = numpy_encoder.encode(chips)
    theirs = _dlib_encodings(dlib_encoder, chips)
    assert len(ours) == len(theirs) == len(chips)
    for mine, reference in zip(ours, theirs, strict=True):
        assert mine.dtype == np.float64 and mine.shape == (128,)
        assert np.abs(mine - reference).max() < COMPONENT_TOLERANCE
    for i, j in itertools.combinations(range(len(chips)), 2):
        mine_d = face_distance(ours[i], ours[j])
        their_d = face_distance(theirs[i], theirs[j])
        assert abs(mine_d - their_d) < DISTANCE_TOLERANCE, (i, j)
        assert (mine_d <= THRESHOLD) == (their_d <= THRESHOLD), (i, j, mine_d, their_d)


def test_installed_photos_match_dlib(
    numpy_encoder: ResNetEncoder, dlib_encoder: Any, installed_chips: list[Chip]
) -> None:
    _compare(numpy_encoder, dlib_encoder, installed_chips)


def test_testdata_faces_match_dlib(
    numpy_encoder: ResNetEncoder,
    dlib_encoder: Any,
    installed_chips: list[Chip],
    testdata_chips: list[Chip],
) -> None:
    chips = testdata_chips + installed_chips
    _compare(numpy_encoder, dlib_encoder, chips)
    # The set has pairs on both sides of the threshold: the decisions above were tested.
    ours = numpy_encoder.encode(chips)
    distances = [face_distance(a, b) for a, b in itertools.combinations(ours, 2)]
    assert min(distances) < THRESHOLD < max(distances)


def test_noise_and_flat_chips_match_dlib(numpy_encoder: ResNetEncoder, dlib_encoder: Any) -> None:
    rng = np.random.default_rng(2024)
    chips: list[Chip] = [rng.integers(0, 256, (150, 150, 3), dtype=np.uint8) for _ in range(4)]
    chips.append(np.zeros((150, 150, 3), dtype=np.uint8))
    chips.append(np.full((150, 150, 3), 255, dtype=np.uint8))
    # A chip whose channels differ (RGB order matters to the input means).
    chips.append(np.dstack([np.full((150, 150), v, np.uint8) for v in (200, 30, 90)]))
    _compare(numpy_encoder, dlib_encoder, chips)


def test_batches_and_order_do_not_change_results(installed_chips: list[Chip]) -> None:
    encoder = ResNetEncoder(batch=3)
    rng = np.random.default_rng(5)
    chips = installed_chips + [
        rng.integers(0, 256, (150, 150, 3), dtype=np.uint8) for _ in range(5)
    ]
    together = encoder.encode(chips)  # 7 chips: batches of 3, 3, 1
    alone = [encoder.encode([c])[0] for c in chips]
    for a, b in zip(together, alone, strict=True):
        assert np.abs(a - b).max() < 1e-6
    # A non-contiguous view (as a crop may be) is read correctly.
    view = np.ascontiguousarray(chips[0][:, ::-1])[:, ::-1]
    assert np.abs(encoder.encode([view])[0] - together[0]).max() < 1e-6
    assert encoder.encode([]) == []


def test_threads_share_one_encoder(
    numpy_encoder: ResNetEncoder, installed_chips: list[Chip]
) -> None:
    expected = numpy_encoder.encode(installed_chips)
    results: list[list[np.ndarray]] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(3):
            found = numpy_encoder.encode(installed_chips)
            with lock:
                results.append(found)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(results) == 9
    for found in results:
        for a, b in zip(found, expected, strict=True):
            assert np.array_equal(a, b)


@pytest.mark.parametrize(
    ("chip", "message"),
    [
        (np.zeros((150, 150), np.uint8), "shape"),
        (np.zeros((150, 150, 4), np.uint8), "shape"),
        (np.zeros((151, 150, 3), np.uint8), "shape"),
        (np.zeros((150, 150, 3), np.float32), "uint8"),
        (np.zeros((150, 150, 3), np.uint16), "uint8"),
        ([[0] * 3] * 150, "numpy array"),
    ],
)
def test_bad_chips_are_value_errors(numpy_encoder: ResNetEncoder, chip: Any, message: str) -> None:
    good = np.zeros((150, 150, 3), np.uint8)
    with pytest.raises(ValueError, match=message):
        numpy_encoder.encode([good, chip])


def test_one_chip_not_in_a_list_is_a_value_error(numpy_encoder: ResNetEncoder) -> None:
    with pytest.raises(ValueError, match="sequence of chips"):
        numpy_encoder.encode(np.zeros((150, 150, 3), np.uint8))  # type: ignore[arg-type]


# -- the model file -------------------------------------------------------------------------


def test_missing_model_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.dat"
    with pytest.raises(ModelFileError, match=r"cannot read the face encoder model .*nowhere"):
        ResNetEncoder(missing)


def _damaged(tmp_path: Path, change: Any) -> Path:
    data = model_path().read_bytes()
    path = tmp_path / "damaged.dat"
    path.write_bytes(change(data))
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda data: data[: len(data) // 2], "truncated"),
        (lambda data: data[:-1], "truncated"),
        (lambda data: data + b"\x00", "bytes left after the network"),
        (lambda data: b"", "truncated"),
        (lambda data: b"\x7f" * 1000, "bad integer"),
        (lambda data: data.replace(b"relu_", b"relu!", 1), "relu!"),
        (lambda data: data.replace(b"con_4", b"con_9", 1), "con_9"),
        (lambda data: data.replace(b"loss_metric_2", b"loss_mmod_222", 1), "loss_mmod"),
    ],
    ids=["half", "last-byte", "trailing", "empty", "garbage", "layer", "version", "loss"],
)
def test_corrupt_model_file(tmp_path: Path, change: Any, message: str) -> None:
    with pytest.raises(ModelFileError, match=message):
        ResNetEncoder(_damaged(tmp_path, change))


def test_a_different_network_is_refused(tmp_path: Path) -> None:
    # The 5-point landmark model is a dlib file too, but not this network.
    with open(model_path().parent / "shape_predictor_5_face_landmarks.dat", "rb") as handle:
        data = handle.read()
    path = tmp_path / "other.dat"
    path.write_bytes(data)
    with pytest.raises(ModelFileError, match="not dlib's face encoder model"):
        ResNetEncoder(path)


def test_blas_threads_can_be_pinned() -> None:
    before = limit_blas_threads(1)
    assert before is not None, "numpy's OpenBLAS not found in this process"
    assert limit_blas_threads(before) == 1
