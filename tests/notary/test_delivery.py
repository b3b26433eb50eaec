"""notary/delivery.py: post with tracking and receipt, electronic, pick-up; the case follows."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from notary import decision, delivery, journal
from notary.cases import CaseError, CaseState, get_case
from notary.materials import sniff
from recorder.store import StoredObject
from tests.notary import material_files as files
from tests.notary.aftercare_world import interviewed, issued
from tests.notary.case_world import make_case_world

STAFF = {"actor_role": "notary"}


@pytest.mark.integration
async def test_post_needs_tracking_then_a_receipt(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        world = await make_case_world(conn)
        case = await issued(conn, world)
        by = {"actor_id": world.notary, **STAFF}
        with pytest.raises(CaseError) as no_address:
            await delivery.choose(conn, case.id, method="post", address=" ", **by)
        assert no_address.value.code == "invalid_address"
        with pytest.raises(CaseError) as no_method:
            await delivery.choose(conn, case.id, method="pigeon", address=None, **by)
        assert no_method.value.code == "invalid_method"
        chosen = await delivery.choose(
            conn,
            case.id,
            method="post",
            address="广州市天河区 1 号",
            actor_id=world.applicant,
            actor_role="applicant",
        )
        assert chosen.state is delivery.DeliveryState.PREPARING
        with pytest.raises(CaseError) as skipped:
            await delivery.advance(conn, case.id, to="delivered", **by)
        assert skipped.value.code == "invalid_delivery_step"
        for carrier, tracking, code in [
            (None, "SF1234567", "invalid_carrier"),
            ("SF Express", None, "invalid_tracking_number"),
            ("SF Express", "SF 123; drop", "invalid_tracking_number"),
        ]:
            with pytest.raises(CaseError) as bad:
                await delivery.advance(
                    conn, case.id, to="dispatched", carrier=carrier, tracking_number=tracking, **by
                )
            assert bad.value.code == code
        sent = await delivery.advance(
            conn, case.id, to="dispatched", carrier="SF Express", tracking_number="SF1234567", **by
        )
        assert (sent.carrier, sent.tracking_number) == ("SF Express", "SF1234567")
        with pytest.raises(CaseError) as address_locked:
            await delivery.choose(conn, case.id, method="pickup", address=None, **by)
        assert address_locked.value.code == "delivery_underway"
        with pytest.raises(CaseError) as no_receipt:
            await delivery.advance(conn, case.id, to="delivered", **by)
        assert no_receipt.value.code == "receipt_missing"
        current = await get_case(conn, case.id)
        assert current is not None
        sniffed = sniff(files.jpeg(), "receipt.jpg")
        digest = "cd" * 32
        stored = StoredObject(
            "b", delivery.receipt_key(case.id, sniffed, digest), "v1", digest, 1234, None, False
        )
        with_receipt = await delivery.record_receipt(
            conn, current, sniffed=sniffed, stored=stored, **by
        )
        assert with_receipt.receipt_sha256 == digest
        assert with_receipt.as_dict()["receipt"] == {
            "sha256": digest,
            "content_type": "image/jpeg",
            "size": 1234,
        }
        assert "receipt_key" not in str(with_receipt.as_dict())
        done = await delivery.advance(conn, case.id, to="delivered", note="signed by 张三", **by)
        assert [e.state.value for e in done.events] == [
            "preparing",
            "dispatched",
            "delivered",
        ]
        assert done.events[-1].note == "signed by 张三"
        after = await get_case(conn, case.id)
        assert after is not None and after.state is CaseState.DELIVERED
        entries = await journal.entries_for_case(conn, case.id)
        assert [e.action for e in entries[-2:]] == ["case.delivery_step", "case.transition"]
        assert all("天河" not in str(e.after) for e in entries)  # no address in the journal
        assert (await journal.verify(conn)).ok  # every step chained, nothing broken


@pytest.mark.integration
async def test_failed_electronic_delivery_is_retried(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        world = await make_case_world(conn)
        case = await issued(conn, world)
        by = {"actor_id": world.admin, "actor_role": "admin"}
        await delivery.choose(conn, case.id, method="electronic", address="ignored", **by)
        chosen = await delivery.get_delivery(conn, case.id)
        assert chosen is not None and chosen.address is None
        for step in ("dispatched", "failed", "dispatched", "delivered"):
            moved = await delivery.advance(conn, case.id, to=step, **by)
        assert [e.state.value for e in moved.events] == [
            "preparing",
            "dispatched",
            "failed",
            "dispatched",
            "delivered",
        ]
        current = await get_case(conn, case.id)
        assert current is not None
        with pytest.raises(CaseError) as not_post:
            await delivery.check_receipt_allowed(conn, current)
        assert not_post.value.code == "not_post"


@pytest.mark.integration
async def test_pickup_and_what_cannot_be_delivered(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        world = await make_case_world(conn)
        by = {"actor_id": world.notary, **STAFF}
        refused = await interviewed(conn, world)
        await decision.decide(
            conn, refused.id, notary_id=world.notary, outcome="refused", reasons="no proof"
        )
        with pytest.raises(CaseError) as nothing:
            await delivery.choose(conn, refused.id, method="pickup", address=None, **by)
        assert nothing.value.code == "not_deliverable"
        approved = await interviewed(conn, world)
        await decision.decide(
            conn, approved.id, notary_id=world.notary, outcome="approved", reasons="ok"
        )
        # Chosen before the certificate exists, moved only once it does.
        await delivery.choose(conn, approved.id, method="pickup", address=None, **by)
        with pytest.raises(CaseError) as early:
            await delivery.advance(conn, approved.id, to="ready", **by)
        assert early.value.code == "not_issued"
        with pytest.raises(CaseError) as no_delivery:
            await delivery.advance(conn, refused.id, to="ready", **by)
        assert no_delivery.value.code == "no_delivery"
