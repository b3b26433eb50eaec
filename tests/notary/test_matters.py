"""notary/matters.py: the reviewed catalog file, its validation, seeding and an admin's edits."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from notary import matters
from notary.accounts import create_account, ensure_office
from notary.roles import Role
from notary.tables import journal_entries

CLASSES = ["short", "long", "permanent"]

# The Liaoning list of 55 "at most one visit" matters, by the codes the catalog gives them.
AT_MOST_ONE_VISIT = 55


def raw_catalog() -> dict[str, Any]:
    return dict(json.loads(matters.DATA_FILE.read_text(encoding="utf-8")))


@pytest.mark.unit
def test_the_catalog_file_lists_every_matter_completely() -> None:
    catalog = matters.load_catalog(CLASSES)
    codes = [m.code for m in catalog]
    assert len(codes) == AT_MOST_ONE_VISIT + 9
    assert codes.index("declaration") == AT_MOST_ONE_VISIT  # the 55 come first, in list order
    for extra in (
        "power_of_attorney",
        "will",
        "inheritance",
        "contract",
        "enforceable_debt",
        "escrow",
        "evidence_preservation",
        "lottery_supervision",
    ):
        assert extra in codes
    for matter in catalog:
        assert matter.base_fee_cents > 0 and matter.expected_days > 0
        assert any(not m["optional"] for m in matter.notice["materials"])
        for lang in ("zh-CN", "en"):
            view = matter.view(lang)
            assert view["name"] and view["conditions"] and len(view["steps"]) == 5
            assert all(m["name"] for m in view["materials"])
    will = next(m for m in catalog if m.code == "will")
    assert will.secret and not will.remote_allowed and will.retention_class == "permanent"
    assert sum(m.secret for m in catalog) == 1
    modes = {r["mode"] for m in catalog for r in m.notice["materials"]}
    assert modes == {"upload", "shared_data", "commitment"}


@pytest.mark.unit
def test_views_are_in_the_asked_language() -> None:
    birth = next(m for m in matters.load_catalog(CLASSES) if m.code == "birth")
    assert birth.view("zh-CN")["name"] == "出生" and birth.view("en")["name"] == "Birth"
    assert birth.view("en")["materials"][0]["name"].startswith("Applicant's identity")
    assert birth.view("zh-CN")["steps"][1].startswith("公证员预审")


@pytest.mark.unit
@pytest.mark.parametrize(
    "break_it, message",
    [
        (lambda c: c["matters"].append(copy.deepcopy(c["matters"][0])), "unique"),
        (
            lambda c: c["matters"][0]["materials"].append({"material": "nope", "mode": "upload"}),
            "unknown material",
        ),
        (lambda c: c["matters"][0]["materials"][0].update(mode="fax"), "mode"),
        (lambda c: c["matters"][0].update(fee_cents=-1), "fee_cents"),
        (lambda c: c["matters"][0].update(retention_class="forever"), "not configured"),
        (lambda c: c["matters"][0].update(category="misc"), "unknown category"),
        (lambda c: c["materials"]["applicant_id"].update(en=""), "en"),
        (
            lambda c: c["matters"][0].update(
                materials=[{"material": "agent_papers", "mode": "upload", "optional": True}]
            ),
            "required",
        ),
    ],
)
def test_a_broken_catalog_is_refused(break_it: Any, message: str) -> None:
    catalog = raw_catalog()
    break_it(catalog)
    with pytest.raises(matters.CatalogError, match=message):
        matters.parse_catalog(catalog, CLASSES)


@pytest.mark.integration
async def test_seed_then_edit_then_seed_keeps_the_edit(engine: AsyncEngine) -> None:
    catalog = matters.load_catalog(CLASSES)
    async with engine.begin() as conn:
        assert len(await matters.seed(conn, catalog)) == len(catalog)
        assert await matters.seed(conn, catalog) == []
        office = await ensure_office(conn, "T", "测试", "Test", "Asia/Shanghai")
        admin = await create_account(
            conn,
            role=Role.ADMIN,
            display_name="a",
            login="a@example.org",
            password=None,
            office_id=office,
        )
        edited = await matters.update(
            conn,
            "birth",
            {"base_fee_cents": 12000, "remote_allowed": False},
            actor_id=admin.id,
            actor_role="admin",
            reason="2027 price list",
        )
    assert edited.base_fee_cents == 12000 and edited.revision == 2 and not edited.remote_allowed
    async with engine.begin() as conn:
        assert await matters.seed(conn, catalog) == []
        kept = await matters.get_matter(conn, "birth")
        assert kept is not None and kept.base_fee_cents == 12000
        rows = (
            await conn.execute(
                sa.select(journal_entries).where(journal_entries.c.action == "matter.update")
            )
        ).all()
    assert len(rows) == 1 and rows[0].reason == "2027 price list"
    assert rows[0].actor_id == admin.id
    before, after = json.loads(rows[0].before_json), json.loads(rows[0].after_json)
    assert before == {"base_fee_cents": 10000, "remote_allowed": True, "revision": 1}
    assert after == {"base_fee_cents": 12000, "remote_allowed": False, "revision": 2}


@pytest.mark.integration
async def test_an_edit_is_validated(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await matters.seed(conn, matters.load_catalog(CLASSES))
        for changes in (
            {"name_zh": "x"},
            {},
            {"base_fee_cents": "80"},
            {"materials": [{"code": "a", "mode": "upload", "optional": False, "zh": "甲"}]},
            {"conditions": []},
        ):
            with pytest.raises(matters.CatalogError):
                await matters.update(
                    conn, "birth", changes, actor_id="x", actor_role="admin", reason="r"
                )
        with pytest.raises(LookupError):
            await matters.update(
                conn, "nope", {"active": False}, actor_id="x", actor_role="admin", reason="r"
            )
        listed = await matters.list_matters(conn)
    assert len(listed) == len(matters.load_catalog(CLASSES))
