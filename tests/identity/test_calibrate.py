"""Threshold calibration: distributions, threshold for a target FMR, the CLI entry."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest

from identity.calibrate import main, pair_distances, threshold_for
from tests.identity.conftest import astronaut, face_path, grace_hopper, jpeg_bytes

pytestmark = pytest.mark.unit


def test_threshold_for_a_target_fmr_on_known_distances() -> None:
    genuine = [0.3, 0.35, 0.4, 0.45, 0.5]
    impostor = [0.6 + i * 0.0001 for i in range(5000)]  # 5000 pairs support FMR 0.001
    result = threshold_for(genuine, impostor, 0.001)
    assert result.supported
    assert result.fmr_at_threshold <= 0.001
    assert 0.6 <= result.threshold < 0.6006
    assert result.fnmr_at_threshold == 0.0


def test_too_few_pairs_are_flagged_and_the_threshold_is_conservative() -> None:
    result = threshold_for([0.3, 0.4], [0.7, 0.8, 0.9, 0.75], 0.001)
    assert not result.supported and result.pairs_needed == 3000
    assert result.parametric_threshold is not None
    assert result.threshold == min(result.empirical_threshold or 9, result.parametric_threshold)
    assert "3000" in result.note


def test_pairs_split_by_person() -> None:
    import numpy as np

    a, b = np.zeros(128), np.ones(128) * 0.1
    genuine, impostor = pair_distances({"p": [("1", a), ("2", a)], "q": [("3", b)]})
    assert genuine == [0.0] and len(impostor) == 2


def _people(root: Path, photos: dict[str, list[bytes]]) -> Path:
    for person, items in photos.items():
        folder = root / person
        folder.mkdir()
        for i, data in enumerate(items):
            (folder / f"{i}.jpg").write_bytes(data)
    return root


def test_cli_on_installed_photos(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    grace, astro = grace_hopper(), astronaut()[:300]
    root = _people(
        tmp_path,
        {
            "grace": [jpeg_bytes(grace), jpeg_bytes(cv2.resize(grace, None, fx=0.6, fy=0.6), 60)],
            "astronaut": [jpeg_bytes(astro), jpeg_bytes(astro[:, ::-1].copy(), 70)],
        },
    )
    assert main([str(root), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["people"] == 2 and report["photos"] == 4
    cal = report["calibration"]
    assert cal["genuine"]["count"] == 2 and cal["impostor"]["count"] == 4
    assert cal["genuine"]["maximum"] < cal["impostor"]["minimum"]
    assert report["model"]["name"] == "dlib_face_recognition_resnet_model_v1"
    assert main([str(root)]) == 0
    assert "threshold" in capsys.readouterr().out


def test_cli_on_the_shared_photos(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    people = {
        "obama": ["obama.jpg", "obama2.jpg", "obama3.jpg"],
        "biden": ["biden.jpg", "biden2.jpg"],
        "alex": ["alex-lacamoire.png", "alex-lacamoire2.jpg"],
        "lin": ["lin-manuel-miranda.png"],
    }
    for person, names in people.items():
        (tmp_path / person).mkdir()
        for name in names:
            (tmp_path / person / name).symlink_to(face_path(name))
    assert main([str(tmp_path), "--json", "--target-fmr", "0.01"]) == 0
    report = json.loads(capsys.readouterr().out)
    cal = report["calibration"]
    assert not cal["supported"]  # 24 impostor pairs cannot support 1 %
    assert cal["genuine"]["maximum"] < cal["threshold"] < cal["impostor"]["minimum"]


def test_cli_refuses_a_missing_folder(tmp_path: Path) -> None:
    assert main([str(tmp_path / "nope")]) == 2
    assert main([str(tmp_path)]) == 2  # no person folders
