"""The journal: an append-only, hash-chained log of every action on every case.

Each entry's hash is SHA-256 over a canonical JSON of its fields and the previous entry's hash,
so editing a field, editing a hash, deleting, inserting or reordering entries breaks the chain
where it happened, and `verify` reports it. One chain for the whole platform; appends are
serialized (an advisory lock on PostgreSQL, the single writer lock on SQLite) and the database
refuses two entries after the same one (`prev_hash` is unique), so the chain never forks.

`append` runs inside the caller's transaction: the action and its entry commit together or not
at all. Rewriting the whole chain from some point on, hashes included, can only be caught
against a head recorded elsewhere earlier: `verify(..., anchors=...)`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from notary.tables import journal_entries

GENESIS = "0" * 64  # the "previous hash" of the first entry
# Key of the PostgreSQL advisory lock that serializes appends (distinct from the migrations').
PG_APPEND_LOCK_KEY = 0x4A4F_5552_4E4C  # "JOURNL"

MAX_REASON_CHARS = 2000
MAX_STATE_BYTES = 64 * 1024  # before/after each: a case's fields, not its documents
_ACTION = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
_VERIFY_BATCH = 1000


class JournalError(ValueError):
    """An entry that cannot be written as asked (bad action name, too large, not JSON)."""


@dataclass(frozen=True)
class JournalEntry:
    seq: int
    at: dt.datetime
    action: str
    actor_id: str | None
    actor_role: str
    case_id: str | None
    reason: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    prev_hash: str
    hash: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at.isoformat(timespec="microseconds"),
            "action": self.action,
            "actor_id": self.actor_id,
            "actor_role": self.actor_role,
            "case_id": self.case_id,
            "reason": self.reason,
            "before": self.before,
            "after": self.after,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise TypeError(f"naive datetime {value!r}")
        return value.astimezone(dt.UTC).isoformat(timespec="microseconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def canonical_json(value: Any) -> str:
    """One text per value: sorted keys, no spaces, UTF-8 kept, no NaN or infinities."""
    return json.dumps(
        value,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=_json_default,
    )


def _state_json(name: str, state: Mapping[str, Any] | None) -> str | None:
    if state is None:
        return None
    try:
        text = canonical_json(dict(state))
    except (TypeError, ValueError) as exc:
        raise JournalError(f"{name}: {exc}") from None
    if len(text.encode()) > MAX_STATE_BYTES:
        raise JournalError(f"{name}: more than {MAX_STATE_BYTES} bytes")
    return text


def entry_hash(
    *,
    seq: int,
    at: dt.datetime,
    action: str,
    actor_id: str | None,
    actor_role: str,
    case_id: str | None,
    reason: str | None,
    before_json: str | None,
    after_json: str | None,
    prev_hash: str,
) -> str:
    """SHA-256 (hex) of the entry's canonical JSON; before/after as the exact stored text."""
    fields = {
        "seq": seq,
        "at": at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "action": action,
        "actor_id": actor_id,
        "actor_role": actor_role,
        "case_id": case_id,
        "reason": reason,
        "before": before_json,
        "after": after_json,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical_json(fields).encode("utf-8")).hexdigest()


async def _lock_chain(conn: AsyncConnection) -> None:
    """Make this transaction the only appender until it ends."""
    if conn.dialect.name == "postgresql":
        await conn.execute(
            sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_APPEND_LOCK_KEY}
        )
    else:
        # SQLite: a write statement takes the database's write lock now, before we read the
        # head, so a second appender waits (busy timeout) instead of reading the same head.
        # It matches no row, so the append-only trigger does not fire.
        await conn.execute(
            journal_entries.update().where(sa.false()).values(seq=journal_entries.c.seq)
        )


async def _head(conn: AsyncConnection) -> tuple[int, str]:
    row = (
        await conn.execute(
            sa.select(journal_entries.c.seq, journal_entries.c.hash)
            .order_by(journal_entries.c.seq.desc())
            .limit(1)
        )
    ).first()
    return (0, GENESIS) if row is None else (int(row.seq), str(row.hash))


async def append(
    conn: AsyncConnection,
    *,
    action: str,
    actor_id: str | None,
    actor_role: str,
    case_id: str | None = None,
    reason: str | None = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> JournalEntry:
    """Write one entry at the head of the chain, in the caller's transaction.

    `action` is a dotted lower-case name (`case.transition`, `fee.payment_recorded`);
    `actor_id` None means the platform itself. Raises JournalError for bad input.
    """
    if not _ACTION.match(action) or len(action) > 64:
        raise JournalError(f"action {action!r}: expected a dotted lower-case name, 64 chars max")
    actor_role = str(actor_role.value if isinstance(actor_role, Enum) else actor_role)
    if not actor_role or len(actor_role) > 16:
        raise JournalError("actor_role: 1 to 16 characters")
    if reason is not None and len(reason) > MAX_REASON_CHARS:
        raise JournalError(f"reason: more than {MAX_REASON_CHARS} characters")
    before_json = _state_json("before", before)
    after_json = _state_json("after", after)

    await _lock_chain(conn)
    last_seq, prev_hash = await _head(conn)
    seq = last_seq + 1
    at = dt.datetime.now(dt.UTC)
    values: dict[str, Any] = {
        "seq": seq,
        "at": at,
        "action": action,
        "actor_id": actor_id,
        "actor_role": actor_role,
        "case_id": case_id,
        "reason": reason,
        "before_json": before_json,
        "after_json": after_json,
        "prev_hash": prev_hash,
    }
    values["hash"] = entry_hash(**values)
    await conn.execute(journal_entries.insert().values(**values))
    return _entry_from_values(values)


def _entry_from_values(values: Mapping[str, Any]) -> JournalEntry:
    def load(text: str | None) -> dict[str, Any] | None:
        return None if text is None else json.loads(text)

    return JournalEntry(
        seq=int(values["seq"]),
        at=values["at"],
        action=values["action"],
        actor_id=values["actor_id"],
        actor_role=values["actor_role"],
        case_id=values["case_id"],
        reason=values["reason"],
        before=load(values["before_json"]),
        after=load(values["after_json"]),
        prev_hash=values["prev_hash"],
        hash=values["hash"],
    )


async def entries_for_case(conn: AsyncConnection, case_id: str) -> list[JournalEntry]:
    """A case's history, oldest first."""
    rows = await conn.execute(
        sa.select(journal_entries)
        .where(journal_entries.c.case_id == case_id)
        .order_by(journal_entries.c.seq)
    )
    return [_entry_from_values(dict(row._mapping)) for row in rows]


async def head(conn: AsyncConnection) -> tuple[int, str]:
    """(seq, hash) of the newest entry; (0, GENESIS) for an empty journal. Record it elsewhere
    (a certificate, an evidence manifest, a printout) to anchor a later `verify`."""
    return await _head(conn)


# --- verification -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    seq: int
    kind: str  # hash_mismatch | broken_link | gap | anchor_mismatch | anchor_missing
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "kind": self.kind, "message": self.message}


@dataclass
class Report:
    entries: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    problems: list[Problem] = field(default_factory=list)
    truncated: bool = False  # more problems than `max_problems` were found

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "head": {"seq": self.head_seq, "hash": self.head_hash},
            "problems": [p.as_dict() for p in self.problems],
            "problems_truncated": self.truncated,
        }


async def _rows(conn: AsyncConnection) -> AsyncIterator[sa.Row[Any]]:
    """Every entry in seq order, in batches (keyset pagination: no large OFFSET, bounded memory)."""
    after = 0
    while True:
        rows = (
            await conn.execute(
                sa.select(journal_entries)
                .where(journal_entries.c.seq > after)
                .order_by(journal_entries.c.seq)
                .limit(_VERIFY_BATCH)
            )
        ).all()
        for row in rows:
            yield row
        if len(rows) < _VERIFY_BATCH:
            return
        after = int(rows[-1].seq)


async def verify(
    conn: AsyncConnection,
    *,
    anchors: Iterable[tuple[int, str]] = (),
    max_problems: int = 100,
) -> Report:
    """Recompute the whole chain and report every break in it.

    `anchors` are (seq, hash) pairs recorded earlier outside the database (e.g. a printed head):
    each must still be there unchanged, which also catches a chain rewritten or cut after it.
    Run it in a REPEATABLE READ (PostgreSQL) or ordinary (SQLite) transaction for one snapshot.
    """
    report = Report()
    expected_anchors = dict(anchors)

    def problem(seq: int, kind: str, message: str) -> None:
        if len(report.problems) < max_problems:
            report.problems.append(Problem(seq, kind, message))
        else:
            report.truncated = True

    prev_seq, prev_hash = 0, GENESIS
    async for row in _rows(conn):
        seq = int(row.seq)
        report.entries += 1
        if seq != prev_seq + 1:
            problem(seq, "gap", f"entries {prev_seq + 1}..{seq - 1} are missing (deleted)")
        if row.prev_hash != prev_hash:
            problem(
                seq,
                "broken_link",
                f"entry {seq} does not follow entry {prev_seq}: an entry before it was "
                "deleted, inserted, reordered or its hash edited",
            )
        recomputed = entry_hash(
            seq=seq,
            at=row.at,
            action=row.action,
            actor_id=row.actor_id,
            actor_role=row.actor_role,
            case_id=row.case_id,
            reason=row.reason,
            before_json=row.before_json,
            after_json=row.after_json,
            prev_hash=row.prev_hash,
        )
        if recomputed != row.hash:
            problem(seq, "hash_mismatch", f"entry {seq} was altered: its content or hash changed")
        anchored = expected_anchors.pop(seq, None)
        if anchored is not None and anchored != row.hash:
            problem(seq, "anchor_mismatch", f"entry {seq} differs from the recorded anchor")
        prev_seq, prev_hash = seq, str(row.hash)
    for seq in sorted(expected_anchors):
        problem(seq, "anchor_missing", f"anchored entry {seq} is no longer in the journal")
    report.head_seq, report.head_hash = prev_seq, prev_hash
    return report
