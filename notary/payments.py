"""Recording payments: an adapter interface, and the "manual" recorder staff use today.

No payment gateway is integrated: a staff member records what was paid, how (method) and the
receipt or transaction number (reference). A gateway would be another `PaymentRecorder`.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from notary import journal
from notary.tables import PAYMENT_METHODS, payments

MAX_AMOUNT_FEN = 100_000_000  # a million yuan: above is a typing error
_REFERENCE = re.compile(r"^[\w\-./#: ]{1,128}$")


class PaymentError(ValueError):
    pass


@dataclass(frozen=True)
class Payment:
    id: str
    case_id: str
    amount_fen: int
    method: str
    reference: str | None
    recorded_by: str
    recorded_at: dt.datetime


class PaymentRecorder(Protocol):
    async def record(
        self,
        conn: AsyncConnection,
        *,
        case_id: str,
        amount_fen: int,
        method: str,
        reference: str | None,
        actor_id: str,
        actor_role: str,
    ) -> Payment: ...

    async def paid_fen(self, conn: AsyncConnection, case_id: str) -> int: ...


class ManualPaymentRecorder:
    """Payments recorded by staff in the database, each journaled in the same transaction."""

    async def record(
        self,
        conn: AsyncConnection,
        *,
        case_id: str,
        amount_fen: int,
        method: str,
        reference: str | None,
        actor_id: str,
        actor_role: str,
    ) -> Payment:
        if method not in PAYMENT_METHODS:
            raise PaymentError(f"method must be one of {', '.join(PAYMENT_METHODS)}")
        if not 0 <= amount_fen <= MAX_AMOUNT_FEN:
            raise PaymentError(f"amount must be 0..{MAX_AMOUNT_FEN} fen")
        if (method == "waived") != (amount_fen == 0):
            raise PaymentError("a waived fee records 0, and only a waived fee records 0")
        reference = reference.strip() if reference else None
        if method not in ("cash", "waived") and not reference:
            raise PaymentError(f"a {method} payment needs its transaction reference")
        if reference is not None and not _REFERENCE.match(reference):
            raise PaymentError("reference: up to 128 letters, digits and - . / # : _")
        payment = Payment(
            id=str(uuid.uuid4()),
            case_id=case_id,
            amount_fen=amount_fen,
            method=method,
            reference=reference,
            recorded_by=actor_id,
            recorded_at=dt.datetime.now(dt.UTC),
        )
        await conn.execute(payments.insert().values(**payment.__dict__))
        await journal.append(
            conn,
            action="fee.payment_recorded",
            actor_id=actor_id,
            actor_role=actor_role,
            case_id=case_id,
            after={
                "payment_id": payment.id,
                "amount_fen": amount_fen,
                "method": method,
                "reference": reference,
            },
        )
        return payment

    async def paid_fen(self, conn: AsyncConnection, case_id: str) -> int:
        total = await conn.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(payments.c.amount_fen), 0)).where(
                payments.c.case_id == case_id
            )
        )
        return int(total or 0)


async def list_payments(conn: AsyncConnection, case_id: str) -> list[Payment]:
    """A case's payments, oldest first."""
    rows = await conn.execute(
        sa.select(payments).where(payments.c.case_id == case_id).order_by(payments.c.recorded_at)
    )
    return [
        Payment(
            id=row.id,
            case_id=row.case_id,
            amount_fen=row.amount_fen,
            method=row.method,
            reference=row.reference,
            recorded_by=row.recorded_by,
            recorded_at=row.recorded_at,
        )
        for row in rows
    ]
