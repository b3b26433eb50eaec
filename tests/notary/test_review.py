"""notary/review.py: submission, and pre-review with one notice."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from notary import materials
from notary.cases import Case, CaseError, CaseState, get_case, set_assigned_notary
from notary.materials import Material, sniff
from notary.review import (
    NoticeRefused,
    SubmissionIncomplete,
    accept,
    list_notices,
    send_notice,
    submit,
)
from recorder.store import StoredObject
from tests.notary import material_files as files
from tests.notary.case_world import CaseWorld, draft, make_case_world, matter


async def _upload(conn: AsyncConnection, world: CaseWorld, case: Case, req: str) -> Material:
    count = len(await materials.list_materials(conn, case.id))
    stored = StoredObject("b", f"k{count}", None, f"{count:064x}", 10, None, True)
    return await materials.record_upload(
        conn,
        case,
        await matter(conn, case.matter_code),
        requirement=req,
        file_name="a.png",
        sniffed=sniff(files.png(), "a.png"),
        stored=stored,
        actor_id=world.applicant,
        actor_role="applicant",
    )


async def _fresh(conn: AsyncConnection, case: Case) -> Case:
    found = await get_case(conn, case.id)
    assert found is not None
    return found


async def _ready(conn: AsyncConnection, world: CaseWorld) -> tuple[Case, list[Material]]:
    """A submitted `birth` case assigned to world.notary, every material uploaded."""
    case = await draft(conn, world, "birth")
    birth = await matter(conn, "birth")
    uploads = [
        await _upload(conn, world, case, r["code"])
        for r in birth.notice["materials"]
        if not r["optional"]
    ]
    await submit(conn, case, birth, actor_id=world.applicant, actor_role="applicant")
    await set_assigned_notary(conn, case.id, world.notary)
    return await _fresh(conn, case), uploads


@pytest.mark.integration
async def test_submission_needs_every_required_material(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        world = await make_case_world(conn)
        case = await draft(conn, world, "birth")
        birth = await matter(conn, "birth")
        with pytest.raises(SubmissionIncomplete) as refused:
            await submit(conn, case, birth, actor_id=world.applicant, actor_role="applicant")
        assert refused.value.requirements == [
            "applicant_id",
            "birth_medical_certificate",
            "household_register",
            "parents_id",
        ]
        for code in refused.value.requirements:
            await _upload(conn, world, case, code)
        moved = await submit(conn, case, birth, actor_id=world.applicant, actor_role="applicant")
    assert moved.state is CaseState.SUBMITTED


@pytest.mark.integration
async def test_one_notice_then_only_what_is_new(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        world = await make_case_world(conn)
        case, uploads = await _ready(conn, world)
        birth = await matter(conn, "birth")
        with pytest.raises(CaseError, match="assigned"):
            await send_notice(conn, case, birth, notary_id=world.notary2, items=[], message=None)
        with pytest.raises(NoticeRefused):  # empty
            await send_notice(conn, case, birth, notary_id=world.notary, items=[], message=None)
        with pytest.raises(NoticeRefused):  # the same material twice: merge into one item
            await send_notice(
                conn,
                case,
                birth,
                notary_id=world.notary,
                message=None,
                items=[
                    {"requirement": "parents_id", "problem": "a"},
                    {"requirement": "parents_id", "problem": "b"},
                ],
            )
        first = await send_notice(
            conn,
            case,
            birth,
            notary_id=world.notary,
            message="请补正",
            items=[
                {"requirement": "parents_id", "material_id": uploads[3].id, "problem": "缺母亲"},
                {"requirement": "applicant_id", "problem": "过期"},
            ],
        )
        assert first.round == 1
        case = await _fresh(conn, case)
        assert case.state is CaseState.RETURNED
        with pytest.raises(SubmissionIncomplete) as still_open:
            await submit(conn, case, birth, actor_id=world.applicant, actor_role="applicant")
        assert still_open.value.requirements == ["applicant_id", "parents_id"]
        new_parents = await _upload(conn, world, case, "parents_id")
        new_id = await _upload(conn, world, case, "applicant_id")
        await submit(conn, case, birth, actor_id=world.applicant, actor_role="applicant")
        case = await _fresh(conn, case)

        # Round two: a material handed in before the first notice is off limits; so is an
        # item without the new material it is about.
        for items in (
            [{"requirement": "household_register", "material_id": uploads[2].id, "problem": "x"}],
            [{"requirement": "parents_id", "problem": "x"}],
            [
                {"requirement": "applicant_id", "material_id": new_id.id, "problem": "ok"},
                {"requirement": "birth_medical_certificate", "problem": "忘了说"},
            ],
        ):
            with pytest.raises(NoticeRefused) as stale:
                await send_notice(
                    conn, case, birth, notary_id=world.notary, items=items, message=None
                )
            assert stale.value.code == "notice_not_new"
        with pytest.raises(NoticeRefused, match="no such material"):
            await send_notice(
                conn,
                case,
                birth,
                notary_id=world.notary,
                message=None,
                items=[
                    {"requirement": "applicant_id", "material_id": new_parents.id, "problem": "x"}
                ],
            )
        second = await send_notice(
            conn,
            case,
            birth,
            notary_id=world.notary,
            message=None,
            items=[{"requirement": "parents_id", "material_id": new_parents.id, "problem": "反面"}],
        )
        assert second.round == 2
        assert [n.round for n in await list_notices(conn, case.id)] == [1, 2]


@pytest.mark.integration
async def test_accepting_is_for_the_assigned_notary(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        world = await make_case_world(conn)
        case, _ = await _ready(conn, world)
        with pytest.raises(CaseError, match="assigned"):
            await accept(conn, case, notary_id=world.notary2)
        accepted = await accept(conn, case, notary_id=world.notary)
        assert accepted.state is CaseState.ACCEPTED
        with pytest.raises(CaseError, match="not waiting"):
            await accept(conn, accepted, notary_id=world.notary)
