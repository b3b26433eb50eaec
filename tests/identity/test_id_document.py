"""ID intake on real photos: one face accepted, none or several refused with reasons."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import pytest

from identity.consent import Consent
from identity.faces import face_distance
from identity.id_document import (
    DocumentKind,
    IdFace,
    IntakeLimits,
    IntakeRefused,
    RefusalReason,
    intake_camera_still_async,
    intake_id_photo,
    intake_id_photo_async,
    load_image,
)
from identity.policy import MatchPolicy
from tests.identity.conftest import face_path, grace_hopper, jpeg_bytes

pytestmark = pytest.mark.unit


def test_installed_photos_give_templates(installed_faces: dict[str, IdFace]) -> None:
    for face in installed_faces.values():
        assert face.template.shape == (128,)
        assert face.crop_jpeg[:2] == b"\xff\xd8"
        assert face.model.name == "dlib_face_recognition_resnet_model_v1"
    distance = face_distance(
        installed_faces["astronaut"].template, installed_faces["grace_hopper"].template
    )
    assert not MatchPolicy().matches(distance), distance


def test_a_photo_matches_a_resized_re_encoded_copy(
    consent: Consent, installed_faces: dict[str, IdFace]
) -> None:
    image = grace_hopper()
    smaller = cv2.resize(image, None, fx=0.7, fy=0.7, interpolation=cv2.INTER_AREA)
    copy = intake_id_photo(jpeg_bytes(smaller, quality=60), consent, kind=DocumentKind.PASSPORT)
    distance = face_distance(copy.template, installed_faces["grace_hopper"].template)
    assert MatchPolicy().matches(distance), distance


def test_no_face_is_refused(consent: Consent) -> None:
    blank = np.full((400, 600, 3), 200, dtype=np.uint8)
    with pytest.raises(IntakeRefused) as caught:
        intake_id_photo(jpeg_bytes(blank), consent, kind=DocumentKind.PASSPORT)
    assert caught.value.reason is RefusalReason.NO_FACE
    assert caught.value.advice_zh


def test_two_people_is_refused_as_several_faces(consent: Consent) -> None:
    data = face_path("two_people.jpg").read_bytes()
    with pytest.raises(IntakeRefused) as caught:
        intake_id_photo(data, consent, kind=DocumentKind.PASSPORT)
    assert caught.value.reason is RefusalReason.SEVERAL_FACES


def test_partial_face_is_refused_as_cut_off(consent: Consent) -> None:
    # On an ID photo a face cut by the edge means the document was not photographed whole.
    data = face_path("obama_partial_face.jpg").read_bytes()
    with pytest.raises(IntakeRefused) as caught:
        intake_id_photo(data, consent, kind=DocumentKind.PASSPORT)
    assert caught.value.reason is RefusalReason.FACE_CUT_OFF


def _with_inset(base: np.ndarray, inset: np.ndarray, fraction: float) -> np.ndarray:
    out = base.copy()
    h, w = out.shape[:2]
    small = cv2.resize(inset, (int(inset.shape[1] * fraction), int(inset.shape[0] * fraction)))
    out[h - small.shape[0] - 10 : h - 10, w - small.shape[1] - 10 : w - 10] = small
    return out


def test_a_ghost_portrait_of_the_holder_is_ignored_another_face_is_not(
    consent: Consent,
) -> None:
    # Passports print a second, smaller portrait of the holder; simulated by an inset copy.
    page = np.full((900, 1200, 3), 235, dtype=np.uint8)
    portrait = grace_hopper()
    page[100 : 100 + portrait.shape[0], 80 : 80 + portrait.shape[1]] = portrait
    ghosted = _with_inset(page, portrait, 0.45)
    face = intake_id_photo(jpeg_bytes(ghosted), consent, kind=DocumentKind.PASSPORT)
    assert face.ghosts_ignored == 1

    from tests.identity.conftest import astronaut

    other = _with_inset(page, np.ascontiguousarray(astronaut()[:300, 100:400]), 1.0)
    with pytest.raises(IntakeRefused) as caught:
        intake_id_photo(jpeg_bytes(other), consent, kind=DocumentKind.PASSPORT)
    assert caught.value.reason is RefusalReason.SEVERAL_FACES


def test_content_not_name_decides(consent: Consent) -> None:
    with pytest.raises(IntakeRefused) as caught:
        load_image(b"%PDF-1.7 not a photo")
    assert caught.value.reason is RefusalReason.NOT_AN_IMAGE
    with pytest.raises(IntakeRefused) as caught:
        load_image(jpeg_bytes(grace_hopper())[:2000])  # truncated upload
    assert caught.value.reason is RefusalReason.NOT_AN_IMAGE
    import io

    from PIL import Image

    gif = io.BytesIO()
    Image.fromarray(grace_hopper()).save(gif, "GIF")
    with pytest.raises(IntakeRefused) as caught:
        load_image(gif.getvalue())
    assert caught.value.reason is RefusalReason.UNSUPPORTED_FORMAT


def test_size_limits_are_checked_before_decoding(consent: Consent) -> None:
    data = jpeg_bytes(grace_hopper())
    with pytest.raises(IntakeRefused) as caught:
        load_image(data, IntakeLimits(max_bytes=1000))
    assert caught.value.reason is RefusalReason.TOO_LARGE
    with pytest.raises(IntakeRefused) as caught:
        load_image(data, IntakeLimits(max_pixels=100_000))
    assert caught.value.reason is RefusalReason.TOO_LARGE
    tiny = cv2.resize(grace_hopper(), (120, 140))
    with pytest.raises(IntakeRefused) as caught:
        load_image(jpeg_bytes(tiny))
    assert caught.value.reason is RefusalReason.TOO_SMALL


def test_same_person_matches_others_do_not(id_faces: Callable[[str], IdFace]) -> None:
    policy = MatchPolicy()
    same = [("obama.jpg", "obama2.jpg"), ("obama.jpg", "obama3.jpg"), ("biden.jpg", "biden2.jpg")]
    same.append(("alex-lacamoire.png", "alex-lacamoire2.jpg"))
    for a, b in same:
        d = face_distance(id_faces(a).template, id_faces(b).template)
        assert policy.matches(d), (a, b, d)
    people = ["obama.jpg", "biden.jpg", "lin-manuel-miranda.png", "alex-lacamoire.png"]
    for i, a in enumerate(people):
        for b in people[i + 1 :]:
            d = face_distance(id_faces(a).template, id_faces(b).template)
            assert not policy.matches(d), (a, b, d)


async def test_async_intake_runs_in_the_worker(consent: Consent, worker: object) -> None:
    from identity.faces import FaceWorker

    assert isinstance(worker, FaceWorker)
    face = await intake_id_photo_async(
        jpeg_bytes(grace_hopper()), consent, kind=DocumentKind.CN_RESIDENT_ID, worker=worker
    )
    still = await intake_camera_still_async(
        grace_hopper(), consent, kind=DocumentKind.CN_RESIDENT_ID, worker=worker
    )
    assert face_distance(face.template, still.template) < 0.2
