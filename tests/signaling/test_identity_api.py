"""The identity REST routes' checks that need no media: the document-number check digits
(typos, not forgeries: the answer says so), and who may ask."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.identity.test_mrz import LINE1, LINE2

pytestmark = pytest.mark.integration


def _room_id(links: dict[str, Any]) -> str:
    payload = links["notary"]["token"].split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["room"])


async def _check(client: TestClient, links: dict[str, Any], role: str, **body: Any) -> Any:
    return await client.post(
        f"/api/rooms/{_room_id(links)}/id-number",
        json=body,
        headers={"Authorization": f"Bearer {links[role]['token']}"},
    )


async def test_check_digits_of_the_mrz_and_the_resident_id_number(
    client: TestClient, links: dict[str, Any]
) -> None:
    good = await _check(client, links, "notary", kind="passport_mrz", text=f"{LINE1}\n{LINE2}")
    assert good.status == 200, await good.text()
    body = await good.json()
    assert body["valid"] and body["fields"]["document_number"] == "L898902C3"
    assert body["fields"]["birth_date"] == "1974-08-12" and "not forgeries" in body["note"]

    typo = LINE2.replace("L898902C3", "L898902C8")
    bad = await _check(client, links, "notary", kind="passport_mrz", text=f"{LINE1}\n{typo}")
    assert bad.status == 422
    error = (await bad.json())["error"]
    assert error["code"] == "id_number_invalid"
    assert (
        error["details"]["field"] == "document number" and "forgeries" in error["details"]["note"]
    )

    resident = await _check(
        client, links, "notary", kind="cn_resident_id", text="11010519491231002X"
    )
    assert resident.status == 200
    fields = (await resident.json())["fields"]
    assert (fields["birth_date"], fields["sex"]) == ("1949-12-31", "F")
    wrong = await _check(client, links, "notary", kind="cn_resident_id", text="110105194912310021")
    assert wrong.status == 422
    assert (await wrong.json())["error"]["details"]["field"] == "checksum"


async def test_only_the_rooms_notary_checks_numbers_and_bad_bodies_are_refused(
    client: TestClient, links: dict[str, Any]
) -> None:
    text = "11010519491231002X"
    assert (
        await _check(client, links, "applicant", kind="cn_resident_id", text=text)
    ).status == 403
    unknown = await _check(client, links, "notary", kind="driving_licence", text=text)
    assert unknown.status == 400
    assert (await _check(client, links, "notary", kind="cn_resident_id")).status == 400
    long = await _check(client, links, "notary", kind="cn_resident_id", text="1" * 500)
    assert long.status == 400
    nobody = await client.post(
        f"/api/rooms/{_room_id(links)}/id-number", json={"kind": "cn_resident_id", "text": text}
    )
    assert nobody.status == 401
