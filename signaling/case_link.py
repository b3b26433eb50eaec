"""From the video session to the case: a confirmed interview record makes the case interviewed.

A session belongs to a case when its `case_ref` is the case's id. Once every confirmer (the
applicant, and the site officer in a consulate case) has confirmed the closed record, the case
moves scheduled → interviewed, by the notary who holds the session, journaled with the
session id and the hash of the text they confirmed, and the delivery method the record names
is kept for when the certificate is to be delivered (notary/delivery.py). A session for
another notary's case, or for a case that is not scheduled (a second session, a case
reference from outside the platform), moves nothing: the session and its evidence stand on
their own.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from notary.cases import CaseState, TransitionRefused, get_case, transition
from notary.delivery import note_agreed
from notary.interview import InterviewRecord
from notary.roles import Role
from signaling.interview import OnConfirmedByAll
from signaling.rooms import Room

log = logging.getLogger(__name__)

CASE_ID_MAX = 36  # str(uuid4()); anything longer is a reference from outside the platform


@dataclass(frozen=True)
class Outcome:
    moved: bool
    reason: str


async def record_confirmed(engine: AsyncEngine, room: Room, record: InterviewRecord) -> Outcome:
    case_ref = room.case_ref
    if not case_ref or len(case_ref) > CASE_ID_MAX:
        return Outcome(False, "no_case")
    async with engine.begin() as conn:
        case = await get_case(conn, case_ref)
        if case is None:
            return Outcome(False, "no_case")
        if case.assigned_notary_id != room.created_by:
            log.warning(
                "a session's record was confirmed for a case its notary is not assigned to",
                extra={"room": room.id, "case": case.id},
            )
            return Outcome(False, "not_assigned")
        if case.state is not CaseState.SCHEDULED:
            return Outcome(False, f"case_{case.state.value}")
        try:
            await transition(
                conn,
                case.id,
                CaseState.INTERVIEWED,
                actor_id=room.created_by,
                actor_role=Role.NOTARY.value,
                reason=(
                    f"interview record confirmed by every party in session {room.id} "
                    f"(text sha256 {record.text_sha256()})"
                ),
            )
        except TransitionRefused as exc:  # e.g. moved meanwhile by someone else
            return Outcome(False, exc.code)
        if record.delivery is not None:
            await note_agreed(
                conn,
                case.id,
                record.delivery,
                actor_id=room.created_by,
                actor_role=Role.NOTARY.value,
                session_id=room.id,
            )
    return Outcome(True, "interviewed")


def on_confirmed_by_all(engine: AsyncEngine, room: Room) -> OnConfirmedByAll:
    """The InterviewDesk callback for one room (signaling/interview.py)."""

    async def callback(record: InterviewRecord) -> dict[str, Any]:
        return asdict(await record_confirmed(engine, room, record))

    return callback
