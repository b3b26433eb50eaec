"""Steps the case pages' browser tests share: a `birth` case in the Guangzhou office with its
notary and applicant, a supervisor of that office, and logging in on a page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from aiohttp.test_utils import TestClient
from playwright.async_api import Browser, Page
from sqlalchemy.ext.asyncio import AsyncConnection

from notary.accounts import create_account, ensure_office
from notary.cases import Case, CaseState, create_case, set_assigned_notary, transition
from notary.matters import Matter, get_matter
from notary.roles import Role

Lang = Literal["zh-CN", "en"]
# The login form's labels, as web_client/static/i18n.js gives them.
LOGIN_LABELS: dict[Lang, tuple[str, str, str]] = {
    "zh-CN": ("邮箱或手机号", "密码", "登录"),
    "en": ("E-mail or phone", "Password", "Log in"),
}
LOCALES: dict[Lang, str] = {"zh-CN": "zh-CN", "en": "en-US"}

NOTARY_LOGIN = "li@example.org"
APPLICANT_LOGIN = "zs@example.org"
SUPERVISOR_LOGIN = "sup@example.org"


@dataclass
class BirthCase:
    office: int
    notary: str  # li@example.org
    applicant: str  # zs@example.org, 张三
    matter: Matter
    case: Case


async def birth_case(
    conn: AsyncConnection,
    notary_password: str,
    *,
    applicant_password: str | None = None,
    elderly: bool = False,
) -> BirthCase:
    """A draft `birth` case of 张三 in office GZ, and the notary 李公证员 who will handle it
    (not assigned yet). No applicant password: the applicant never logs in."""
    office = await ensure_office(
        conn, "GZ", "广州公证处", "Guangzhou Notary Office", "Asia/Shanghai"
    )
    notary = await create_account(
        conn,
        role=Role.NOTARY,
        display_name="李公证员",
        login=NOTARY_LOGIN,
        password=notary_password,
        office_id=office,
    )
    applicant = await create_account(
        conn,
        role=Role.APPLICANT,
        display_name="张三",
        login=APPLICANT_LOGIN,
        password=applicant_password,
    )
    matter = await get_matter(conn, "birth")
    assert matter is not None
    case = await create_case(
        conn,
        matter=matter,
        office_id=office,
        applicant_account_id=applicant.id,
        applicant_name="张三",
        actor_id=applicant.id,
        actor_role="applicant",
        elderly=elderly,
    )
    return BirthCase(office, notary.id, applicant.id, matter, case)


async def interview(conn: AsyncConnection, world: BirthCase) -> None:
    """Assign the case to its notary and move it on to interviewed, as the people would."""
    await set_assigned_notary(conn, world.case.id, world.notary)
    for state, actor, role in [
        (CaseState.SUBMITTED, world.applicant, "applicant"),
        (CaseState.ACCEPTED, world.notary, "notary"),
        (CaseState.SCHEDULED, world.notary, "notary"),
        (CaseState.INTERVIEWED, world.notary, "notary"),
    ]:
        await transition(conn, world.case.id, state, actor_id=actor, actor_role=role)


async def add_supervisor(conn: AsyncConnection, office: int, password: str) -> str:
    """督查员 sup@example.org of `office`; their account id."""
    account = await create_account(
        conn,
        role=Role.SUPERVISOR,
        display_name="督查员",
        login=SUPERVISOR_LOGIN,
        password=password,
        office_id=office,
    )
    return account.id


async def log_in(page: Page, login: str, password: str, lang: Lang = "zh-CN") -> None:
    """Fill and send the page's login form."""
    name, secret, button = LOGIN_LABELS[lang]
    await page.get_by_label(name).fill(login)
    await page.get_by_label(secret).fill(password)
    await page.get_by_role("button", name=button).click()


async def open_logged_in(
    client: TestClient,
    browser: Browser,
    path: str,
    login: str,
    password: str,
    lang: Lang = "zh-CN",
) -> Page:
    """A new page in `lang` at `path` of the test server, logged in as `login`."""
    page = await browser.new_page(locale=LOCALES[lang])
    await page.goto(str(client.make_url(path)))
    await log_in(page, login, password, lang)
    return page
