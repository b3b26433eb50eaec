"""notary/payments: the manual recorder stores what staff record, journals it, refuses junk."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from notary import journal
from notary.cases import CaseState
from notary.payments import ManualPaymentRecorder, PaymentError, PaymentRecorder
from notary.tables import payments
from tests.notary.certificate_world import case_in_state, make_world


async def _case(engine: AsyncEngine) -> tuple[str, str]:
    async with engine.begin() as conn:
        world = await make_world(conn)
        return await case_in_state(conn, world, CaseState.ACCEPTED), world.notary


async def test_a_recorded_payment_is_stored_and_journaled(engine: AsyncEngine) -> None:
    recorder: PaymentRecorder = ManualPaymentRecorder()
    case_id, notary = await _case(engine)
    async with engine.begin() as conn:
        paid = await recorder.record(
            conn,
            case_id=case_id,
            amount_fen=20_000,
            method="wechat_pay",
            reference=" 4200001234202611220001 ",
            actor_id=notary,
            actor_role="notary",
        )
        await recorder.record(
            conn,
            case_id=case_id,
            amount_fen=500,
            method="cash",
            reference=None,
            actor_id=notary,
            actor_role="notary",
        )
    async with engine.connect() as conn:
        assert await recorder.paid_fen(conn, case_id) == 20_500
        row = (await conn.execute(sa.select(payments).where(payments.c.id == paid.id))).one()
        history = await journal.entries_for_case(conn, case_id)
    assert (row.method, row.reference, row.amount_fen) == (
        "wechat_pay",
        "4200001234202611220001",
        20_000,
    )
    recorded = [e for e in history if e.action == "fee.payment_recorded"]
    assert [e.after["amount_fen"] for e in recorded if e.after] == [20_000, 500]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"method": "bitcoin"}, "method"),
        ({"amount_fen": -1}, "amount"),
        ({"amount_fen": 0}, "waived"),
        ({"method": "waived", "amount_fen": 100}, "waived"),
        ({"method": "bank_transfer", "reference": None}, "reference"),
        ({"reference": "<script>"}, "reference"),
    ],
)
async def test_junk_is_refused_and_nothing_is_written(
    engine: AsyncEngine, kwargs: dict[str, Any], message: str
) -> None:
    case_id, notary = await _case(engine)
    arguments: dict[str, Any] = {
        "case_id": case_id,
        "amount_fen": 100,
        "method": "card",
        "reference": "POS-1",
        "actor_id": notary,
        "actor_role": "notary",
    }
    arguments.update(kwargs)
    async with engine.begin() as conn:
        with pytest.raises(PaymentError, match=message):
            await ManualPaymentRecorder().record(conn, **arguments)
        assert await ManualPaymentRecorder().paid_fen(conn, case_id) == 0
