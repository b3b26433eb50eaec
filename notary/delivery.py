"""Delivery of the certificate: by post, electronically, or picked up at the office.

The applicant (or the office) chooses the method once the case is approved; the office moves the
delivery along and every step is kept with its time, for the applicant to see:

- post:       preparing → dispatched (carrier and tracking number) → delivered (the signed
              receipt's image is kept) or failed → dispatched again;
- electronic: preparing → dispatched (sent) → delivered (received) or failed → dispatched again;
- pickup:     preparing → ready → delivered (handed over).

Delivered moves the case certificate_issued → delivered. The receipt is checked and stored like
a case material (notary.materials), so there is one content check for every file received.

The method the applicant agreed to in the interview (the record they confirmed and signed names
it) is kept in the case's journal when the record moves the case to interviewed, and offered
again when the method is chosen: nobody asks twice, and the office sees what was agreed.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from notary import journal
from notary.cases import Case, CaseError, CaseState, get_case, transition
from notary.decision import Outcome, get_decision
from notary.materials import Sniffed
from notary.tables import deliveries, delivery_events
from recorder.retention import RetentionClass
from recorder.store import ObjectStore, StoredObject

MAX_ADDRESS = 500
MAX_NOTE = 500
_CARRIER = re.compile(r"^[\w .&()\-]{1,64}$")  # 中国邮政 EMS, SF Express, ...
_TRACKING = re.compile(r"^[A-Za-z0-9\-]{4,64}$")


class Method(StrEnum):
    POST = "post"
    ELECTRONIC = "electronic"
    PICKUP = "pickup"


class DeliveryState(StrEnum):
    PREPARING = "preparing"
    DISPATCHED = "dispatched"
    READY = "ready"
    DELIVERED = "delivered"
    FAILED = "failed"


NEXT: dict[Method, dict[DeliveryState, frozenset[DeliveryState]]] = {
    Method.POST: {
        DeliveryState.PREPARING: frozenset({DeliveryState.DISPATCHED}),
        DeliveryState.DISPATCHED: frozenset({DeliveryState.DELIVERED, DeliveryState.FAILED}),
        DeliveryState.FAILED: frozenset({DeliveryState.DISPATCHED}),
    },
    Method.ELECTRONIC: {
        DeliveryState.PREPARING: frozenset({DeliveryState.DISPATCHED}),
        DeliveryState.DISPATCHED: frozenset({DeliveryState.DELIVERED, DeliveryState.FAILED}),
        DeliveryState.FAILED: frozenset({DeliveryState.DISPATCHED}),
    },
    Method.PICKUP: {
        DeliveryState.PREPARING: frozenset({DeliveryState.READY}),
        DeliveryState.READY: frozenset({DeliveryState.DELIVERED}),
    },
}
# The journal action that keeps the method agreed in the interview (signaling/case_link.py).
AGREED_ACTION = "case.delivery_agreed"
# The method may be chosen or changed until the certificate is on its way.
_CHOOSABLE_CASE_STATES = frozenset({CaseState.DECIDED, CaseState.CERTIFICATE_ISSUED})


@dataclass(frozen=True)
class Event:
    state: DeliveryState
    note: str | None
    actor_id: str
    at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {"state": self.state.value, "note": self.note, "at": self.at.isoformat()}


@dataclass(frozen=True)
class Delivery:
    id: str
    case_id: str
    method: Method
    state: DeliveryState
    address: str | None
    carrier: str | None
    tracking_number: str | None
    receipt_key: str | None
    receipt_sha256: str | None
    receipt_content_type: str | None
    receipt_size: int | None
    receipt_version_id: str | None
    created_at: datetime
    updated_at: datetime
    events: tuple[Event, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "case_id": self.case_id,
            "method": self.method.value,
            "state": self.state.value,
            "address": self.address,
            "carrier": self.carrier,
            "tracking_number": self.tracking_number,
            # Never the store key: the receipt is fetched through the API.
            "receipt": (
                {
                    "sha256": self.receipt_sha256,
                    "content_type": self.receipt_content_type,
                    "size": self.receipt_size,
                }
                if self.receipt_key
                else None
            ),
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "events": [e.as_dict() for e in self.events],
        }


async def note_agreed(
    conn: AsyncConnection,
    case_id: str,
    method: Method,
    *,
    actor_id: str | None,
    actor_role: str,
    session_id: str,
) -> None:
    """Keep the method the confirmed interview record names (in the caller's transaction)."""
    await journal.append(
        conn,
        action=AGREED_ACTION,
        actor_id=actor_id,
        actor_role=actor_role,
        case_id=case_id,
        reason=f"the interview record of session {session_id}, confirmed by every party",
        after={"method": method.value, "session": session_id},
    )


async def agreed_method(conn: AsyncConnection, case_id: str) -> Method | None:
    """The method the latest confirmed interview record of the case names, if any."""
    agreed = [e for e in await journal.entries_for_case(conn, case_id) if e.action == AGREED_ACTION]
    if not agreed or agreed[-1].after is None:
        return None
    try:
        return Method(str(agreed[-1].after.get("method")))
    except ValueError:
        return None


async def get_delivery(conn: AsyncConnection, case_id: str) -> Delivery | None:
    row = (await conn.execute(sa.select(deliveries).where(deliveries.c.case_id == case_id))).first()
    if row is None:
        return None
    events = await conn.execute(
        sa.select(delivery_events)
        .where(delivery_events.c.delivery_id == row.id)
        .order_by(delivery_events.c.at, delivery_events.c.id)
    )
    return Delivery(
        id=row.id,
        case_id=row.case_id,
        method=Method(row.method),
        state=DeliveryState(row.state),
        address=row.address,
        carrier=row.carrier,
        tracking_number=row.tracking_number,
        receipt_key=row.receipt_key,
        receipt_sha256=row.receipt_sha256,
        receipt_content_type=row.receipt_content_type,
        receipt_size=row.receipt_size,
        receipt_version_id=row.receipt_version_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        events=tuple(Event(DeliveryState(e.state), e.note, e.actor_id, e.at) for e in events),
    )


async def _event(
    conn: AsyncConnection, delivery_id: str, state: DeliveryState, actor_id: str, note: str | None
) -> None:
    await conn.execute(
        delivery_events.insert().values(
            id=str(uuid.uuid4()),
            delivery_id=delivery_id,
            state=state.value,
            note=note,
            actor_id=actor_id,
            at=datetime.now(UTC),
        )
    )


def _note(note: str | None) -> str | None:
    if note is None or not note.strip():
        return None
    if len(note.strip()) > MAX_NOTE:
        raise CaseError("invalid_note", f"a note has at most {MAX_NOTE} characters")
    return note.strip()


async def choose(
    conn: AsyncConnection,
    case_id: str,
    *,
    method: str,
    address: str | None,
    actor_id: str,
    actor_role: str,
) -> Delivery:
    """Choose (or change, while still preparing) how the certificate reaches the applicant."""
    try:
        method_ = Method(method)
    except ValueError:
        raise CaseError("invalid_method", "method is post, electronic or pickup") from None
    if method_ is Method.POST:
        address = (address or "").strip()
        if not address or len(address) > MAX_ADDRESS:
            raise CaseError("invalid_address", f"post needs an address of 1 to {MAX_ADDRESS}")
    else:
        address = None
    case = await get_case(conn, case_id, for_update=True)
    if case is None:
        raise LookupError(case_id)
    if case.state not in _CHOOSABLE_CASE_STATES:
        raise CaseError("not_deliverable", f"a {case.state.value} case has nothing to deliver")
    decided = await get_decision(conn, case.id)
    if decided is None or decided.outcome is not Outcome.APPROVED:
        raise CaseError("not_deliverable", "only an approved case has a certificate to deliver")
    now = datetime.now(UTC)
    current = await get_delivery(conn, case.id)
    if current is None:
        delivery_id = str(uuid.uuid4())
        await conn.execute(
            deliveries.insert().values(
                id=delivery_id,
                case_id=case.id,
                method=method_.value,
                state=DeliveryState.PREPARING.value,
                address=address,
                created_by=actor_id,
                created_at=now,
                updated_at=now,
            )
        )
        await _event(conn, delivery_id, DeliveryState.PREPARING, actor_id, None)
    elif current.state is DeliveryState.PREPARING:
        await conn.execute(
            deliveries.update()
            .where(deliveries.c.id == current.id)
            .values(method=method_.value, address=address, updated_at=now)
        )
    else:
        raise CaseError("delivery_underway", "the certificate is already on its way")
    await journal.append(
        conn,
        action="case.delivery_method",
        actor_id=actor_id,
        actor_role=actor_role,
        case_id=case.id,
        before={"method": current.method.value} if current else None,
        after={"method": method_.value},  # the address is personal data: not in the journal
    )
    chosen = await get_delivery(conn, case.id)
    assert chosen is not None
    return chosen


async def advance(
    conn: AsyncConnection,
    case_id: str,
    *,
    to: str,
    actor_id: str,
    actor_role: str,
    carrier: str | None = None,
    tracking_number: str | None = None,
    note: str | None = None,
) -> Delivery:
    """Move the delivery to its next state (the office's side); delivered also moves the case."""
    try:
        to_ = DeliveryState(to)
    except ValueError:
        raise CaseError("invalid_state", "unknown delivery state") from None
    note = _note(note)
    case = await get_case(conn, case_id, for_update=True)
    if case is None:
        raise LookupError(case_id)
    current = await get_delivery(conn, case.id)
    if current is None:
        raise CaseError("no_delivery", "no delivery method is chosen yet")
    if to_ not in NEXT[current.method].get(current.state, frozenset()):
        raise CaseError(
            "invalid_delivery_step",
            f"a {current.method.value} delivery cannot go from {current.state.value} to "
            f"{to_.value}",
        )
    if to_ is not DeliveryState.FAILED and case.state is not CaseState.CERTIFICATE_ISSUED:
        raise CaseError("not_issued", "the certificate is not issued yet")
    values: dict[str, Any] = {"state": to_.value, "updated_at": datetime.now(UTC)}
    if current.method is Method.POST and to_ is DeliveryState.DISPATCHED:
        if not carrier or not _CARRIER.match(carrier.strip()):
            raise CaseError("invalid_carrier", "name the carrier (letters, digits, spaces)")
        if not tracking_number or not _TRACKING.match(tracking_number.strip()):
            raise CaseError("invalid_tracking_number", "4 to 64 letters, digits or dashes")
        values |= {"carrier": carrier.strip(), "tracking_number": tracking_number.strip()}
    if (
        current.method is Method.POST
        and to_ is DeliveryState.DELIVERED
        and current.receipt_key is None
    ):
        raise CaseError("receipt_missing", "attach the signed receipt first")
    await conn.execute(deliveries.update().where(deliveries.c.id == current.id).values(**values))
    await _event(conn, current.id, to_, actor_id, note)
    after: dict[str, Any] = {"delivery": to_.value}
    if "tracking_number" in values:
        after |= {"carrier": values["carrier"], "tracking_number": values["tracking_number"]}
    await journal.append(
        conn,
        action="case.delivery_step",
        actor_id=actor_id,
        actor_role=actor_role,
        case_id=case.id,
        reason=note,
        before={"delivery": current.state.value},
        after=after,
    )
    if to_ is DeliveryState.DELIVERED:
        await transition(
            conn, case.id, CaseState.DELIVERED, actor_id=actor_id, actor_role=actor_role
        )
    moved = await get_delivery(conn, case.id)
    assert moved is not None
    return moved


# --- the post receipt ----------------------------------------------------------------------------


def receipt_key(case_id: str, sniffed: Sniffed, sha256: str) -> str:
    return f"cases/{case_id}/delivery/receipt/{sha256}.{sniffed.extension}"


def store_receipt(
    store: ObjectStore,
    bucket: str,
    case_id: str,
    data: bytes,
    sniffed: Sniffed,
    retention: RetentionClass,
) -> StoredObject:
    """Write the receipt once, under the matter's retention (blocking: run it in a thread)."""
    digest = hashlib.sha256(data).hexdigest()
    key = receipt_key(case_id, sniffed, digest)
    return store.put_locked(bucket, key, data, retention, content_type=sniffed.content_type)


async def check_receipt_allowed(conn: AsyncConnection, case: Case) -> Delivery:
    current = await get_delivery(conn, case.id)
    if current is None or current.method is not Method.POST:
        raise CaseError("not_post", "a receipt belongs to a delivery by post")
    if current.state is not DeliveryState.DISPATCHED:
        raise CaseError("not_dispatched", "a receipt comes back once the post is dispatched")
    return current


async def record_receipt(
    conn: AsyncConnection,
    case: Case,
    *,
    sniffed: Sniffed,
    stored: StoredObject,
    actor_id: str,
    actor_role: str,
) -> Delivery:
    current = await check_receipt_allowed(conn, case)
    await conn.execute(
        deliveries.update()
        .where(deliveries.c.id == current.id)
        .values(
            receipt_key=stored.key,
            receipt_sha256=stored.sha256,
            receipt_content_type=sniffed.content_type,
            receipt_size=stored.size,
            receipt_version_id=stored.version_id,
            updated_at=datetime.now(UTC),
        )
    )
    await journal.append(
        conn,
        action="case.delivery_receipt",
        actor_id=actor_id,
        actor_role=actor_role,
        case_id=case.id,
        before={"receipt_sha256": current.receipt_sha256},
        after={"receipt_sha256": stored.sha256, "size": stored.size},
    )
    updated = await get_delivery(conn, case.id)
    assert updated is not None
    return updated
