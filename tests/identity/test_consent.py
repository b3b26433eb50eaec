"""No face processing without consent; templates live only while the case is open."""

from __future__ import annotations

import json

import numpy as np
import pytest

from identity.consent import Consent, ConsentError, Purpose, TemplateStore, require_consent
from identity.faces import FaceWorker
from identity.id_document import DocumentKind, intake_id_photo
from identity.matcher import LiveMatcher
from tests.identity.conftest import astronaut, jpeg_bytes, make_consent

pytestmark = pytest.mark.unit


def test_processing_refuses_without_a_consent_object(worker: FaceWorker) -> None:
    photo = jpeg_bytes(np.ascontiguousarray(astronaut()[:300]))
    with pytest.raises(ConsentError):
        intake_id_photo(photo, None, kind=DocumentKind.PASSPORT)  # type: ignore[arg-type]
    with pytest.raises(ConsentError):
        LiveMatcher(np.zeros(128), "yes", worker=worker, on_event=print)  # type: ignore[arg-type]
    with pytest.raises(ConsentError):
        require_consent({"consent": True}, Purpose.FACE_MATCH)


def test_consent_covers_named_purposes_only_and_can_be_withdrawn() -> None:
    consent = Consent.record(
        "case-9", "applicant", text_version="v1", purposes=frozenset({Purpose.ID_PHOTO})
    )
    consent.require(Purpose.ID_PHOTO)
    with pytest.raises(ConsentError, match="does not cover"):
        consent.require(Purpose.LIVENESS)
    consent.withdraw()
    with pytest.raises(ConsentError, match="withdrawn"):
        consent.require(Purpose.ID_PHOTO)
    with pytest.raises(ConsentError):
        Consent.record("", "applicant", text_version="v1")


def test_templates_are_deleted_when_the_case_closes() -> None:
    store = TemplateStore()
    first, other = make_consent("case-a", "p1"), make_consent("case-b", "p1")
    kept = store.put(first, np.ones(128), b"crop")
    store.put(make_consent("case-a", "p2"), np.ones(128))
    store.put(other, np.ones(128))
    got = store.get(first)
    assert got is not None
    assert got.encoding.shape == (128,)
    assert store.close_case("case-a") == 2
    assert ("case-a", "p1") not in store
    assert ("case-b", "p1") in store
    # Holders of the object see zeros and no crop: the data itself is gone.
    assert not kept.encoding.any()
    assert kept.crop_jpeg is None
    assert store.get(first) is None


def test_withdrawn_consent_blocks_reading_the_template() -> None:
    store = TemplateStore()
    consent = make_consent()
    store.put(consent, np.ones(128))
    consent.withdraw()
    with pytest.raises(ConsentError):
        store.get(consent)
    assert store.delete_subject(consent.case_ref, consent.subject)
    assert len(store) == 0


def test_event_records_carry_scores_not_templates() -> None:
    from identity.faces import model_info
    from identity.matcher import EventKind, IdentityEvent

    event = IdentityEvent(
        kind=EventKind.MATCH,
        case_ref="c",
        subject="s",
        check=1,
        media_time=1.0,
        at=0.0,
        latency_ms=1.0,
        faces=1,
        distance=0.4,
        threshold=0.55,
        threshold_source="test",
        model=model_info(),
        box=(1, 2, 3, 4),
    )
    record = event.to_record()
    text = json.dumps(record)
    assert record["distance"] == 0.4
    assert record["model"]["name"] == "dlib_face_recognition_resnet_model_v1"
    assert record["threshold"] == 0.55
    assert not any(isinstance(v, list) and len(v) >= 128 for v in record.values())
    assert len(text) < 1000
