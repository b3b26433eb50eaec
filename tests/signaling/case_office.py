"""The case API's test office: the app on SQLite or PostgreSQL, staff of two offices with
session tokens, two registered applicants, and small request helpers."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from notary.accounts import create_account, ensure_office
from notary.roles import Role
from signaling.app import create_app
from signaling.appkeys import PLATFORM
from signaling.platform import Platform
from signaling.settings import Settings
from tests.notary.conftest import postgres_admin_url, postgres_url  # noqa: F401 (fixtures)

PASSWORD = "applicant passphrase 2026"


@pytest.fixture(params=["sqlite", "postgresql"])
async def api(
    request: pytest.FixtureRequest, settings: Settings
) -> AsyncIterator[TestClient[Any, Any]]:
    if request.param == "postgresql":
        settings = dataclasses.replace(
            settings, database_url=request.getfixturevalue("postgres_url")
        )
    app = create_app(Platform.from_settings(settings))
    async with TestClient(TestServer(app)) as client:
        yield client


@dataclasses.dataclass
class Office:
    ids: dict[str, str]
    headers: Callable[[str], dict[str, str]]


@pytest.fixture
async def office(api: TestClient[Any, Any]) -> Office:
    """Staff of office SH01 (and a second office), each with a session token by short name."""
    platform = api.app[PLATFORM]
    roles: dict[str, tuple[str, int | None]] = {}
    ids: dict[str, str] = {}
    async with platform.engine.begin() as conn:
        sh = await ensure_office(
            conn, "SH01", "上海公证处", "Shanghai Notary Office", "Asia/Shanghai"
        )
        bj = await ensure_office(
            conn, "BJ01", "北京公证处", "Beijing Notary Office", "Asia/Shanghai"
        )
        for name, role, office_id in [
            ("wang", Role.NOTARY, sh),
            ("zhao", Role.NOTARY, sh),
            ("qian", Role.NOTARY, sh),
            ("sun", Role.NOTARY, bj),
            ("admin", Role.ADMIN, sh),
            ("super", Role.SUPERVISOR, sh),
            ("officer", Role.SITE_OFFICER, sh),
        ]:
            account = await create_account(
                conn,
                role=role,
                display_name=name,
                login=f"{name}@office.example",
                password=None,
                office_id=office_id,
            )
            ids[name] = account.id
            roles[account.id] = (role.value, office_id)

    def headers(name: str) -> dict[str, str]:
        account_id = ids[name]
        role, office_id = roles.get(account_id, ("applicant", None))
        token = platform.tokens.issue_session(account_id, role, office_id, 3600)
        return {"Authorization": f"Bearer {token}"}

    async def register(name: str) -> None:
        login = f"{name}@mail.example"
        response = await api.post(
            "/api/applicants", json={"login": login, "password": PASSWORD, "display_name": name}
        )
        ids[name] = (await json_of(response, 201))["account"]["id"]

    await register("zhang")
    await register("liu")
    return Office(ids, headers)


async def json_of(response: Any, status: int) -> dict[str, Any]:
    body = await response.json()
    assert response.status == status, body
    return dict(body)


def upload_form(requirement: str, name: str, data: bytes) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("requirement", requirement)
    form.add_field("file", data, filename=name, content_type="application/octet-stream")
    return form


async def upload(
    api: TestClient[Any, Any],
    office: Office,
    who: str,
    case_id: str,
    req: str,
    name: str,
    data: bytes,
    status: int = 201,
) -> dict[str, Any]:
    response = await api.post(
        f"/api/cases/{case_id}/materials",
        data=upload_form(req, name, data),
        headers=office.headers(who),
    )
    return await json_of(response, status)


async def open_case(api: TestClient[Any, Any], office: Office, matter: str) -> str:
    response = await api.post(
        "/api/cases", json={"matter": matter, "office": "SH01"}, headers=office.headers("zhang")
    )
    return str((await json_of(response, 201))["case"]["id"])
