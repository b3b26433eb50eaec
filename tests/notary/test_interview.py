"""The interview record's rules: versions, time codes, closing, confirming, consulate parts."""

from __future__ import annotations

import hashlib

import pytest

from notary.interview import (
    MAX_ENTRIES,
    MAX_FIELD_CHARS,
    InterviewRecord,
    RecordError,
    RecordState,
    format_time_code,
)


def _record(consulate: bool = False) -> InterviewRecord:
    return InterviewRecord("C-1", "r-1", consulate=consulate)


def _code(call, *args, **kwargs) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(RecordError) as caught:
        call(*args, **kwargs)
    return caught.value.code


def test_an_edit_is_a_new_version_and_keeps_the_time_code_of_the_question() -> None:
    record = _record()
    record.write("您的姓名？", "张三", by="p-n", time_code=None)
    record.write("是否自愿？", "是", by="p-n", time_code=12.34567)
    edited = record.write("是否自愿申请？", "是的", by="p-n", time_code=30.0, entry=2)
    assert (edited.entry, edited.version, edited.time_code) == (2, 2, 12.346)
    assert edited.written_time_code == 30.0
    assert len(record.versions) == 3  # every version kept
    assert [v.question for v in record.current()] == ["您的姓名？", "是否自愿申请？"]
    assert record.current()[0].time_code is None  # before the recording started
    assert _code(record.write, "Q", "A", by="p-n", time_code=1, entry=9) == "unknown_entry"


def test_limits_on_size_and_number() -> None:
    record = _record()
    assert _code(record.write, "x" * (MAX_FIELD_CHARS + 1), "", by="n", time_code=0) == "too_large"
    assert _code(record.write, "   ", "a", by="n", time_code=0) == "invalid"
    assert _code(record.write, "q\x00", "a", by="n", time_code=0) == "invalid"
    for n in range(MAX_ENTRIES):
        record.write(f"Q{n}", "A", by="n", time_code=n)
    assert _code(record.write, "one more", "A", by="n", time_code=0) == "too_many"


def test_closing_needs_entries_and_the_delivery_method() -> None:
    record = _record()
    assert _code(record.close) == "empty"
    record.write("Q", "A", by="n", time_code=1)
    assert _code(record.close) == "delivery_missing"
    assert _code(record.set_delivery, "pigeon") == "invalid"
    record.set_delivery("electronic")
    digest = record.close()
    assert digest == hashlib.sha256(record.text().encode()).hexdigest()
    assert "电子送达 / electronically" in record.text()
    assert "1. [00:00:01]" in record.text()
    assert _code(record.write, "Q2", "A", by="n", time_code=2) == "record_closed"


def test_a_consulate_record_needs_the_paper_original_promise() -> None:
    record = _record(consulate=True)
    record.write("Q", "A", by="n", time_code=1)
    record.set_delivery("post")
    assert _code(record.close) == "paper_original_missing"
    assert _code(record.set_paper_original, "中国驻柏林大使馆", "soon") == "invalid"
    record.set_paper_original("中国驻柏林大使馆", "2026-12-01")
    record.close()
    assert "中国驻柏林大使馆" in record.text() and "2026-12-01" in record.text()
    assert _code(_record().set_paper_original, "M", "2026-12-01") == "not_consulate"


def test_confirmers_confirm_exactly_the_fixed_text() -> None:
    record = _record(consulate=True)
    record.write("Q", "A", by="n", time_code=1)
    record.set_delivery("pickup")
    record.set_paper_original("Mission", "2026-12-01")
    assert _code(record.confirm, "p-a", "applicant", "x", "s") == "record_open"
    digest = record.close()
    assert _code(record.confirm, "p-a", "applicant", "0" * 64, "s") == "text_changed"
    assert _code(record.confirm, "p-n", "notary", digest, "s") == "forbidden"
    assert _code(record.confirm, "p-o", "site_officer", digest, "s") == "attestation_missing"
    mine = record.confirm("p-a", "applicant", digest, "sig-a", passport_checked=True)
    assert mine.passport_checked is None  # the applicant attests nothing
    assert _code(record.confirm, "p-a", "applicant", digest, "s") == "already_confirmed"
    officer = record.confirm("p-o", "site_officer", digest, "sig-o", passport_checked=True)
    assert officer.passport_checked is True
    assert {c["participant"] for c in record.summary()["confirmations"]} == {"p-a", "p-o"}


def test_reopening_drops_the_confirmations_and_changes_the_text() -> None:
    record = _record()
    record.write("Q", "A", by="n", time_code=1)
    record.set_delivery("post")
    first = record.close()
    record.confirm("p-a", "applicant", first, "sig")
    record.reopen()
    assert record.state is RecordState.OPEN and not record.confirmations
    record.write("Q", "A, corrected", by="n", time_code=5, entry=1)
    second = record.close()
    assert second != first and record.closings == 2
    assert _code(record.confirm, "p-a", "applicant", first, "sig") == "text_changed"


def test_time_codes_are_shown_as_hours_minutes_seconds() -> None:
    assert format_time_code(None) == "--:--:--"
    assert format_time_code(3725.9) == "01:02:05"
