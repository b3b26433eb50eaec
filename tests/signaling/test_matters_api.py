"""The public matter catalog over HTTP, and an admin's edit of it."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.notary.conftest import postgres_admin_url, postgres_url  # noqa: F401 (fixtures)
from tests.signaling import case_office
from tests.signaling.case_office import Office, json_of

pytestmark = pytest.mark.integration

# The shared fixtures, under the names the tests ask for.
api = case_office.api
office = case_office.office


async def test_the_catalog_is_public_and_complete(api: TestClient[Any, Any]) -> None:
    catalog = await json_of(await api.get("/api/matters?lang=en"), 200)
    codes = {m["code"] for m in catalog["matters"]}
    assert len(codes) == 64  # the 55 "at most one visit" matters and 9 other kinds of business
    assert {"birth", "kinship", "will", "inheritance", "lottery_supervision"} <= codes
    will = await json_of(await api.get("/api/matters/will?lang=zh-CN"), 200)
    assert will["matter"]["name"] == "遗嘱"
    assert will["matter"]["secret"] is True and will["matter"]["remote_allowed"] is False
    assert will["matter"]["fee"]["base_cents"] > 0
    kinship = (await json_of(await api.get("/api/matters/kinship?lang=en"), 200))["matter"]
    modes = {m["code"]: m["mode"] for m in kinship["materials"]}
    assert modes["kinship_evidence"] == "commitment"
    assert modes["household_register"] == "shared_data"
    assert kinship["steps"] and kinship["conditions"] and kinship["expected_days"] > 0
    assert (await api.get("/api/matters/nope")).status == 404
    assert (await api.get("/api/matters?lang=fr")).status == 400
    spec = await json_of(await api.get("/api/openapi.json"), 200)
    assert "/api/matters/{code}" in spec["paths"] and "/api/matters" in spec["paths"]


async def test_an_admin_edits_a_matter(api: TestClient[Any, Any], office: Office) -> None:
    h = office.headers
    change = {"changes": {"base_fee_cents": 15000, "expected_days": 2}, "reason": "新价目表"}
    assert (await api.patch("/api/matters/birth", json=change)).status == 401
    assert (await api.patch("/api/matters/birth", json=change, headers=h("wang"))).status == 403
    bad = {"changes": {"base_fee_cents": -5}, "reason": "x"}
    refused = await api.patch("/api/matters/birth", json=bad, headers=h("admin"))
    assert (await json_of(refused, 400))["error"]["code"] == "invalid_matter"
    blank = await api.patch(
        "/api/matters/birth", json={"changes": {"active": True}, "reason": " "}, headers=h("admin")
    )
    await json_of(blank, 400)
    edited = await json_of(
        await api.patch("/api/matters/birth", json=change, headers=h("admin")), 200
    )
    assert edited["matter"]["fee"]["base_cents"] == 15000 and edited["matter"]["revision"] == 2
    public = await json_of(await api.get("/api/matters/birth?lang=en"), 200)
    assert public["matter"]["fee"]["base_cents"] == 15000 and public["matter"]["expected_days"] == 2
    hidden = await api.patch(
        "/api/matters/birth",
        json={"changes": {"active": False}, "reason": "暂停"},
        headers=h("admin"),
    )
    await json_of(hidden, 200)
    assert (await api.get("/api/matters/birth")).status == 404
    catalog = await json_of(await api.get("/api/matters"), 200)
    assert "birth" not in {m["code"] for m in catalog["matters"]}
    offices = await json_of(await api.get("/api/offices"), 200)
    assert {o["code"] for o in offices["offices"]} == {"SH01", "BJ01"}
    notaries = await json_of(await api.get("/api/offices/SH01/notaries"), 200)
    assert sorted(n["display_name"] for n in notaries["notaries"]) == ["qian", "wang", "zhao"]
