"""notary/certificate: issuing (numbers, code, signed PDF, journal) and public verification."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from pathlib import Path

import pytest
import sqlalchemy as sa
from pyhanko.pdf_utils.generic import NameObject
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from sqlalchemy.ext.asyncio import AsyncEngine

from notary import certificate, journal
from notary.cases import CaseState, get_case
from notary.certificate import (
    CertificateError,
    issue,
    normalize_code,
    verify_code,
    verify_pdf,
)
from notary.certificate_keys import Keyring
from notary.certificate_pdf import check_signature, sha256
from notary.tables import certificates
from tests.notary.certificate_world import World, case_in_state, make_world

VERIFY_URL = "https://notary.example/static/verify.html"


@pytest.fixture
def keyring(tmp_path: Path) -> Keyring:
    return Keyring(tmp_path / "keys")


@pytest.fixture
async def world(engine: AsyncEngine) -> World:
    async with engine.begin() as conn:
        return await make_world(conn)


async def _decided(engine: AsyncEngine, world: World) -> str:
    async with engine.begin() as conn:
        return await case_in_state(conn, world, CaseState.DECIDED)


async def _issue(
    engine: AsyncEngine,
    world: World,
    keyring: Keyring,
    case_id: str,
    now: dt.datetime | None = None,
) -> certificate.IssuedCertificate:
    async with engine.begin() as conn:
        return await issue(
            conn,
            case_id=case_id,
            actor_id=world.notary,
            actor_role="notary",
            statement_zh="兹证明张三于一九九〇年一月一日出生于上海市。",
            statement_en="This is to certify that Zhang San was born in Shanghai on 1 Jan 1990.",
            keyring=keyring,
            verify_url=VERIFY_URL,
            now=now,
        )


async def test_issue_a_signed_certificate_with_its_hash_in_the_journal(
    engine: AsyncEngine, world: World, keyring: Keyring
) -> None:
    case_id = await _decided(engine, world)
    issued = await _issue(engine, world, keyring, case_id)

    year = dt.datetime.now(dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=8))).year
    assert issued.number == f"SH01-{year}-000001"
    assert normalize_code(issued.verification_code) == issued.verification_code
    assert issued.pdf.startswith(b"%PDF-") and issued.pdf_sha256 == sha256(issued.pdf)
    check = check_signature(issued.pdf, [keyring.get("SH01", "x")])
    assert check.valid, check

    async with engine.connect() as conn:
        case = await get_case(conn, case_id)
        assert case is not None and case.state is CaseState.CERTIFICATE_ISSUED
        stored = (await conn.execute(sa.select(certificates))).one()
        history = await journal.entries_for_case(conn, case_id)
        report = await journal.verify(conn)
    # The code is printed, not stored; the stored PDF is the one handed out.
    assert issued.verification_code not in str(tuple(stored._mapping.values()))
    assert stored.pdf == issued.pdf
    last = history[-1]
    assert last.action == "certificate.issued" and last.seq == issued.journal_seq
    assert last.after is not None and last.after["pdf_sha256"] == issued.pdf_sha256
    assert [e.after for e in history if e.action == "case.transition"][-1] == {
        "state": "certificate_issued"
    }
    assert report.ok


async def test_the_year_is_the_offices_and_numbers_follow_each_other(
    engine: AsyncEngine, world: World, keyring: Keyring
) -> None:
    # 17:30 UTC on 31 December is already 1 January in Shanghai.
    new_year = dt.datetime(2026, 12, 31, 17, 30, tzinfo=dt.UTC)
    first = await _issue(engine, world, keyring, await _decided(engine, world), now=new_year)
    second = await _issue(engine, world, keyring, await _decided(engine, world), now=new_year)
    earlier = dt.datetime(2026, 12, 31, 15, 0, tzinfo=dt.UTC)
    other_year = await _issue(engine, world, keyring, await _decided(engine, world), now=earlier)
    assert [first.number, second.number, other_year.number] == [
        "SH01-2027-000001",
        "SH01-2027-000002",
        "SH01-2026-000001",
    ]


async def test_concurrent_issues_get_numbers_without_gaps_or_duplicates(
    engine: AsyncEngine, world: World, keyring: Keyring
) -> None:
    cases = [await _decided(engine, world) for _ in range(5)]
    keyring.get("SH01", "x")  # made once before the race, as at start-up
    issued = await asyncio.gather(*(_issue(engine, world, keyring, c) for c in cases))
    assert sorted(i.number[-6:] for i in issued) == [f"{n:06d}" for n in range(1, 6)]


async def test_a_failed_issue_gives_its_number_back(
    engine: AsyncEngine, world: World, keyring: Keyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    case_id = await _decided(engine, world)

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(certificate, "transition", broken)
    with pytest.raises(RuntimeError):
        await _issue(engine, world, keyring, case_id)
    monkeypatch.undo()
    assert (await _issue(engine, world, keyring, case_id)).number.endswith("-000001")


async def test_only_the_assigned_notary_issues_and_only_for_a_decided_case(
    engine: AsyncEngine, world: World, keyring: Keyring
) -> None:
    async with engine.begin() as conn:
        interviewed = await case_in_state(conn, world, CaseState.INTERVIEWED)
    with pytest.raises(CertificateError, match="interviewed"):
        await _issue(engine, world, keyring, interviewed)
    decided = await _decided(engine, world)
    async with engine.begin() as conn:
        for actor, role in ((world.other_notary, "notary"), (world.applicant, "applicant")):
            with pytest.raises(CertificateError) as refused:
                await issue(
                    conn,
                    case_id=decided,
                    actor_id=actor,
                    actor_role=role,
                    statement_zh="兹证明",
                    statement_en="Certified",
                    keyring=keyring,
                    verify_url=VERIFY_URL,
                )
            assert refused.value.code == "forbidden"


async def test_a_refused_case_gets_no_certificate(
    engine: AsyncEngine, world: World, keyring: Keyring
) -> None:
    async with engine.begin() as conn:
        refused = await case_in_state(conn, world, CaseState.DECIDED, outcome="refused")
    with pytest.raises(CertificateError) as caught:
        await _issue(engine, world, keyring, refused)
    assert caught.value.code == "not_approved"
    async with engine.connect() as conn:
        case = await get_case(conn, refused)
        assert case is not None and case.state is CaseState.DECIDED
        assert (await conn.execute(sa.select(certificates))).first() is None
    # Nothing was used up: the next approved case still gets the first number.
    approved = await _issue(engine, world, keyring, await _decided(engine, world))
    assert approved.number.endswith("-000001")


async def test_verify_by_number_and_code_shows_no_personal_data(
    engine: AsyncEngine, world: World, keyring: Keyring
) -> None:
    issued = await _issue(engine, world, keyring, await _decided(engine, world))
    typed = issued.verification_code.replace("-", "").lower()  # as someone might type it
    async with engine.connect() as conn:
        facts = await verify_code(conn, issued.number.lower(), typed)
        wrong = await verify_code(conn, issued.number, "AAAA-AAAA-AAAA")
        unknown = await verify_code(conn, "SH01-2020-000009", issued.verification_code)
        junk = await verify_code(conn, "'; DROP TABLE certificates", "x")
    assert facts is not None and wrong is None and unknown is None and junk is None
    shown = facts.as_dict()
    assert shown["number"] == issued.number
    assert shown["matter"]["code"] == "birth"
    assert shown["office"]["en"] == "Shanghai Oriental Notary Office"
    text = str(shown)
    assert "张三" not in text and "王公证员" not in text and world.applicant not in text


async def test_verify_pdf_detects_any_alteration(
    engine: AsyncEngine, world: World, keyring: Keyring
) -> None:
    issued = await _issue(engine, world, keyring, await _decided(engine, world))

    flipped = bytearray(issued.pdf)
    flipped[len(flipped) // 3] ^= 0x01  # one bit inside the signed content

    writer = IncrementalPdfFileWriter(io.BytesIO(issued.pdf))
    writer.root["/Forged"] = NameObject("/Yes")  # an update appended after signing
    writer.update_root()
    appended = io.BytesIO()
    writer.write(appended)

    other = Keyring(Path(keyring.keys_dir.parent / "elsewhere"))
    foreign = await _issue(engine, world, other, await _decided(engine, world))

    async with engine.connect() as conn:
        genuine = await verify_pdf(conn, issued.pdf, keyring)
        verdicts = {
            name: (await verify_pdf(conn, data, keyring)).reason
            for name, data in {
                "flipped": bytes(flipped),
                "appended": appended.getvalue(),
                "foreign": foreign.pdf,
                "not_pdf": b"hello",
            }.items()
        }
    assert genuine.genuine and genuine.facts is not None
    assert genuine.facts.number == issued.number
    # The foreign one is in the database, but its signature is not by this office's key.
    assert verdicts == {
        "flipped": "altered",
        "appended": "altered",
        "foreign": "altered",
        "not_pdf": "not_pdf",
    }
