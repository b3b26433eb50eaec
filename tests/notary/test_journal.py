"""notary/journal: the chain, the database's refusal of changes, and tamper detection."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from notary import journal
from notary.journal import GENESIS, JournalError, entry_hash
from notary.tables import journal_entries

CASE = "6f1c2d4e-0000-4000-8000-000000000001"


async def _append_some(engine: AsyncEngine, count: int) -> list[journal.JournalEntry]:
    entries = []
    async with engine.begin() as conn:
        for i in range(count):
            entries.append(
                await journal.append(
                    conn,
                    action="case.transition",
                    actor_id=f"notary-{i}",
                    actor_role="notary",
                    case_id=CASE if i % 2 == 0 else None,
                    reason="材料齐全 complete" if i == 1 else None,
                    before={"state": "submitted", "n": i},
                    after={"state": "accepted", "at": dt.datetime(2026, 11, 22, tzinfo=dt.UTC)},
                )
            )
    return entries


async def _verify(engine: AsyncEngine, **kwargs: Any) -> journal.Report:
    async with engine.connect() as conn:
        return await journal.verify(conn, **kwargs)


async def _bypass_triggers(conn: AsyncConnection) -> None:
    """What someone with direct database access can do: take the guard off first."""
    if conn.dialect.name == "postgresql":
        await conn.exec_driver_sql("ALTER TABLE journal_entries DISABLE TRIGGER USER")
    else:
        await conn.exec_driver_sql("DROP TRIGGER journal_entries_no_update")
        await conn.exec_driver_sql("DROP TRIGGER journal_entries_no_delete")


def _kinds(report: journal.Report) -> list[tuple[int, str]]:
    return [(p.seq, p.kind) for p in report.problems]


async def test_entries_form_one_chain_that_verifies(engine: AsyncEngine) -> None:
    entries = await _append_some(engine, 5)
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
    assert entries[0].after == {"state": "accepted", "at": "2026-11-22T00:00:00.000000+00:00"}

    report = await _verify(engine)
    assert report.ok, report.problems
    assert (report.entries, report.head_seq, report.head_hash) == (5, 5, entries[-1].hash)
    async with engine.connect() as conn:
        assert await journal.head(conn) == (5, entries[-1].hash)
        history = await journal.entries_for_case(conn, CASE)
    # What comes back from the database is what was written (time zone, JSON, text).
    assert history == [entries[0], entries[2], entries[4]]


async def test_an_empty_journal_verifies(engine: AsyncEngine) -> None:
    report = await _verify(engine)
    assert report.ok and report.entries == 0 and report.head_hash == GENESIS


async def test_a_rolled_back_action_leaves_no_entry(engine: AsyncEngine) -> None:
    with pytest.raises(RuntimeError):
        async with engine.begin() as conn:
            await journal.append(conn, action="case.create", actor_id="a", actor_role="applicant")
            raise RuntimeError("the action failed after journaling")
    entries = await _append_some(engine, 1)
    assert entries[0].seq == 1 and entries[0].prev_hash == GENESIS


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE journal_entries SET reason = 'rewritten' WHERE seq = 2",
        "DELETE FROM journal_entries WHERE seq = 3",
    ],
)
async def test_the_database_refuses_update_and_delete(engine: AsyncEngine, statement: str) -> None:
    await _append_some(engine, 3)
    with pytest.raises(DBAPIError, match="append-only"):
        async with engine.begin() as conn:
            await conn.exec_driver_sql(statement)
    assert (await _verify(engine)).ok


async def test_postgresql_refuses_truncate(engine: AsyncEngine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("TRUNCATE exists on PostgreSQL only")
    await _append_some(engine, 2)
    with pytest.raises(DBAPIError, match="append-only"):
        async with engine.begin() as conn:
            await conn.exec_driver_sql("TRUNCATE journal_entries")


async def test_an_edited_field_is_detected(engine: AsyncEngine) -> None:
    await _append_some(engine, 4)
    async with engine.begin() as conn:
        await _bypass_triggers(conn)
        await conn.execute(
            journal_entries.update()
            .where(journal_entries.c.seq == 2)
            .values(after_json='{"state":"returned"}')
        )
    report = await _verify(engine)
    assert not report.ok
    assert _kinds(report) == [(2, "hash_mismatch")]


async def test_an_edited_hash_is_detected(engine: AsyncEngine) -> None:
    await _append_some(engine, 4)
    async with engine.begin() as conn:
        await _bypass_triggers(conn)
        # An edited field with its own hash recomputed: the next entry no longer links to it.
        row = (
            await conn.execute(sa.select(journal_entries).where(journal_entries.c.seq == 2))
        ).one()
        fields = {k: v for k, v in row._mapping.items() if k != "hash"}
        fields["actor_id"] = "someone-else"
        await conn.execute(
            journal_entries.update()
            .where(journal_entries.c.seq == 2)
            .values(actor_id="someone-else", hash=entry_hash(**fields))
        )
    assert _kinds(await _verify(engine)) == [(3, "broken_link")]


async def test_a_deleted_entry_is_detected(engine: AsyncEngine) -> None:
    await _append_some(engine, 4)
    async with engine.begin() as conn:
        await _bypass_triggers(conn)
        await conn.execute(journal_entries.delete().where(journal_entries.c.seq == 2))
    assert _kinds(await _verify(engine)) == [(3, "gap"), (3, "broken_link")]


async def test_reordered_entries_are_detected(engine: AsyncEngine) -> None:
    await _append_some(engine, 4)
    async with engine.begin() as conn:
        await _bypass_triggers(conn)
        rows = {
            r.seq: dict(r._mapping)
            for r in await conn.execute(
                sa.select(journal_entries).where(journal_entries.c.seq.in_([2, 3]))
            )
        }
        # Swap the contents of entries 2 and 3 (unique columns through a placeholder).
        await conn.execute(
            journal_entries.update()
            .where(journal_entries.c.seq == 2)
            .values(prev_hash="x", hash="y")
        )
        for seq, other in ((3, 2), (2, 3)):
            values = {k: v for k, v in rows[other].items() if k != "seq"}
            await conn.execute(
                journal_entries.update().where(journal_entries.c.seq == seq).values(**values)
            )
    report = await _verify(engine)
    assert {kind for _, kind in _kinds(report)} >= {"broken_link", "hash_mismatch"}
    assert {seq for seq, _ in _kinds(report)} <= {2, 3, 4}


async def test_an_entry_inserted_in_the_middle_is_detected(engine: AsyncEngine) -> None:
    await _append_some(engine, 3)
    async with engine.begin() as conn:
        await _bypass_triggers(conn)
        rows = [dict(r._mapping) for r in await conn.execute(sa.select(journal_entries))]
        rows.sort(key=lambda r: r["seq"])
        await conn.execute(journal_entries.delete().where(journal_entries.c.seq >= 2))
        # A forged entry 2, consistent in itself and linked to entry 1; the old 2 and 3 move up.
        forged = {**rows[1], "actor_id": "forger", "prev_hash": rows[0]["hash"]}
        del forged["hash"]
        forged["hash"] = entry_hash(**forged)
        await conn.execute(journal_entries.insert().values(**forged))
        # The old entry 2 must now name the forgery as its predecessor (prev_hash is unique).
        moved = [{**rows[1], "prev_hash": forged["hash"]}, rows[2]]
        for row in moved:
            await conn.execute(journal_entries.insert().values(**{**row, "seq": row["seq"] + 1}))
    report = await _verify(engine)
    assert _kinds(report) == [(3, "hash_mismatch"), (4, "hash_mismatch")]


async def test_a_replaced_entry_is_caught_by_an_anchor(engine: AsyncEngine) -> None:
    entries = await _append_some(engine, 3)
    async with engine.begin() as conn:
        await _bypass_triggers(conn)
        # Entry 3 replaced by a forgery chained to entry 2, consistent in itself.
        forged = {
            "seq": 3,
            "at": dt.datetime.now(dt.UTC),
            "action": "case.transition",
            "actor_id": "forger",
            "actor_role": "notary",
            "case_id": CASE,
            "reason": None,
            "before_json": None,
            "after_json": None,
            "prev_hash": entries[1].hash,
        }
        await conn.execute(sa.delete(journal_entries).where(journal_entries.c.seq == 3))
        forged["hash"] = entry_hash(**{k: v for k, v in forged.items() if k != "hash"})
        forged_hash = forged["hash"]
        await conn.execute(journal_entries.insert().values(**forged))
    # Consistent in itself: only the anchor recorded earlier catches it.
    assert (await _verify(engine)).ok
    report = await _verify(engine, anchors=[(3, entries[2].hash)])
    assert _kinds(report) == [(3, "anchor_mismatch")]
    assert report.head_hash == forged_hash


async def test_a_cut_tail_is_caught_by_an_anchor(engine: AsyncEngine) -> None:
    entries = await _append_some(engine, 3)
    async with engine.begin() as conn:
        await _bypass_triggers(conn)
        await conn.execute(journal_entries.delete().where(journal_entries.c.seq == 3))
    assert (await _verify(engine)).ok
    report = await _verify(engine, anchors=[(3, entries[2].hash)])
    assert _kinds(report) == [(3, "anchor_missing")]


async def test_concurrent_appends_do_not_fork_the_chain(engine: AsyncEngine) -> None:
    async def one(i: int) -> int:
        async with engine.begin() as conn:
            entry = await journal.append(
                conn, action="case.note", actor_id=str(i), actor_role="notary", after={"i": i}
            )
            await asyncio.sleep(0.01)  # hold the transaction open: the others must wait
            return entry.seq

    seqs = await asyncio.gather(*(one(i) for i in range(12)))
    assert sorted(seqs) == list(range(1, 13))
    report = await _verify(engine)
    assert report.ok and report.entries == 12


async def test_verify_reads_past_one_batch(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal, "_VERIFY_BATCH", 2)
    await _append_some(engine, 5)
    async with engine.begin() as conn:
        await _bypass_triggers(conn)
        await conn.execute(
            journal_entries.update().where(journal_entries.c.seq == 5).values(reason="x")
        )
    report = await _verify(engine)
    assert report.entries == 5 and _kinds(report) == [(5, "hash_mismatch")]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"action": "Case Transition"}, "action"),
        ({"action": "case." + "x" * 70}, "action"),
        ({"actor_role": ""}, "actor_role"),
        ({"reason": "x" * 2001}, "reason"),
        ({"after": {"blob": "x" * 70_000}}, "after"),
        ({"before": {"obj": object()}}, "before"),
        ({"after": {"nan": float("nan")}}, "after"),
        ({"after": {"naive": dt.datetime(2026, 1, 1)}}, "after"),
    ],
)
async def test_bad_entries_are_refused(
    engine: AsyncEngine, kwargs: dict[str, Any], message: str
) -> None:
    arguments: dict[str, Any] = {"action": "case.create", "actor_id": None, "actor_role": "system"}
    arguments.update(kwargs)
    async with engine.begin() as conn:
        with pytest.raises(JournalError, match=message):
            await journal.append(conn, **arguments)
        assert await journal.head(conn) == (0, GENESIS)


@pytest.mark.unit
def test_the_hash_covers_every_field() -> None:
    base: dict[str, Any] = {
        "seq": 1,
        "at": dt.datetime(2026, 11, 22, 5, 0, tzinfo=dt.UTC),
        "action": "case.create",
        "actor_id": "a",
        "actor_role": "applicant",
        "case_id": CASE,
        "reason": None,
        "before_json": None,
        "after_json": '{"state":"draft"}',
        "prev_hash": GENESIS,
    }
    reference = entry_hash(**base)
    changed = {
        "seq": 2,
        "at": base["at"] + dt.timedelta(microseconds=1),
        "action": "case.submit",
        "actor_id": "b",
        "actor_role": "notary",
        "case_id": None,
        "reason": "",
        "before_json": "{}",
        "after_json": '{"state":"submitted"}',
        "prev_hash": "1" * 64,
    }
    for name, value in changed.items():
        assert entry_hash(**{**base, name: value}) != reference, name
    # The same instant in another zone is the same entry.
    shanghai = base["at"].astimezone(dt.timezone(dt.timedelta(hours=8)))
    assert entry_hash(**{**base, "at": shanghai}) == reference
