import json
import os
import threading
from itertools import pairwise
from pathlib import Path

import pytest

from recorder.chain import GENESIS, Chain, ChainLog, Entry, canonical, verify_chain

pytestmark = pytest.mark.unit

AT = "2026-11-22T03:00:00.000+00:00"


def _chain(n: int = 4) -> Chain:
    chain = Chain()
    for i in range(n):
        chain.append("segment" if i % 2 else "event", AT, {"i": i, "名": "张三"})
    return chain


def test_canonical_json_is_stable_and_unicode() -> None:
    assert canonical({"b": 1, "a": "公证"}) == '{"a":"公证","b":1}'.encode()
    with pytest.raises(ValueError):
        canonical({"x": float("nan")})


def test_intact_chain_verifies_and_links() -> None:
    chain = _chain()
    entries = chain.entries
    assert entries[0].prev == GENESIS
    assert all(b.prev == a.hash for a, b in pairwise(entries))
    assert verify_chain(entries) == []
    assert Chain(entries).head == chain.head


def _edited(entry: Entry, **changes: object) -> Entry:
    return Entry.from_dict({**entry.as_dict(), **changes})


@pytest.mark.parametrize(
    "tamper, message",
    [
        (lambda e: [e[0], _edited(e[1], body={"i": 99}), *e[2:]], "entry 1: its content"),
        (lambda e: [e[0], *e[2:]], "entry 1: has sequence number 2"),
        (lambda e: [e[0], e[2], e[1], *e[3:]], "entry 1: has sequence number 2"),
        (lambda e: [*e[:3]], None),  # truncation is caught against the manifest's head, not here
    ],
)
def test_tampering_is_detected_with_a_message(tamper, message) -> None:  # type: ignore[no-untyped-def]
    problems = verify_chain(tamper(_chain().entries))
    if message is None:
        assert problems == []
    else:
        assert problems and problems[0].startswith(message)


def test_a_forged_entry_with_a_recomputed_hash_breaks_the_next_link() -> None:
    entries = _chain().entries
    forged = Chain(entries[:1])
    forged_entry = forged.append("segment", AT, {"i": "forged"})
    problems = verify_chain([entries[0], forged_entry, *entries[2:]])
    assert problems == ["entry 2: does not follow entry 1 (prev hash differs)"]


def test_chain_log_survives_reopen_and_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "chain.jsonl"
    log = ChainLog(path)
    log.append("event", AT, {"type": "recording_started"})
    log.append("segment", AT, {"seq": 0})
    with path.open("a") as fh:
        fh.write('{"seq": 2, "kind": "seg')  # the process died mid-write
    reopened = ChainLog(path)
    assert reopened.torn == '{"seq": 2, "kind": "seg'
    assert len(reopened.chain) == 2
    assert (tmp_path / "chain.jsonl.torn").read_text().startswith('{"seq": 2')
    reopened.append("event", AT, {"type": "gap"})
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["seq"] for line in lines] == [0, 1, 2]
    assert verify_chain([Entry.from_dict(line) for line in lines]) == []


def test_chain_log_refuses_damage_in_the_middle(tmp_path: Path) -> None:
    path = tmp_path / "chain.jsonl"
    log = ChainLog(path)
    for i in range(3):
        log.append("event", AT, {"i": i})
    lines = path.read_text().splitlines()
    lines[1] = lines[1].replace('"i": 1', '"i": 7')
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match="content does not match"):
        ChainLog(path)


def test_write_behind_appends_without_waiting_for_the_disk_and_flush_waits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "chain.jsonl"
    log = ChainLog(path, write_behind=True)
    disk = threading.Event()
    real_fsync = os.fsync

    def slow_fsync(fd: int) -> None:
        disk.wait(5)  # the disk is busy until the test says otherwise
        real_fsync(fd)

    monkeypatch.setattr("recorder.chain.os.fsync", slow_fsync)
    entries = [log.append("event", AT, {"i": i}) for i in range(50)]  # returns at once
    assert entries[-1].seq == 49 and len(log.chain) == 50
    with pytest.raises(TimeoutError):
        log.flush(timeout=0.05)
    disk.set()
    log.close(timeout=5)
    lines = [Entry.from_dict(json.loads(line)) for line in path.read_text().splitlines()]
    assert lines == entries and verify_chain(lines) == []
    assert len(ChainLog(path).chain) == 50
    with pytest.raises(RuntimeError, match="closed"):
        log.append("event", AT, {"i": 50})


def test_write_behind_retries_a_failed_write_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "chain.jsonl"
    log = ChainLog(path, write_behind=True)
    failures = [1]
    real_fsync = os.fsync

    def flaky_fsync(fd: int) -> None:
        if failures[0]:
            failures[0] -= 1
            raise OSError(5, "I/O error")
        real_fsync(fd)

    monkeypatch.setattr("recorder.chain.os.fsync", flaky_fsync)
    first = log.append("event", AT, {"i": 0})
    with pytest.raises(OSError, match="I/O error"):
        log.flush(timeout=0.3)  # the retry comes a second after the failure
    second = log.append("event", AT, {"i": 1})
    log.close(timeout=5)  # the retry (a second later) writes both, in order
    lines = [Entry.from_dict(json.loads(line)) for line in path.read_text().splitlines()]
    assert [e.seq for e in lines if e.body.get("i") is not None][-2:] == [0, 1]
    assert lines[-1] == second and first in lines
