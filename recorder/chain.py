"""The evidence chain: every segment and every session event, each entry holding the hash of the one
before, so that removing, reordering, inserting or editing any entry breaks every hash after it.

Entries are hashed over canonical JSON (sorted keys, no spaces, UTF-8), which any verifier in any
language can rebuild byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GENESIS = "0" * 64  # the `prev` of the first entry

logger = logging.getLogger(__name__)


def canonical(value: Any) -> bytes:
    """The one byte string a JSON value hashes as."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Entry:
    seq: int
    kind: str  # "segment" or "event"
    at: str  # UTC, ISO 8601 with milliseconds
    body: dict[str, Any]
    prev: str
    hash: str

    def unsigned(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "kind": self.kind,
            "at": self.at,
            "body": self.body,
            "prev": self.prev,
        }

    def as_dict(self) -> dict[str, Any]:
        return {**self.unsigned(), "hash": self.hash}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Entry:
        return cls(
            seq=int(data["seq"]),
            kind=str(data["kind"]),
            at=str(data["at"]),
            body=dict(data["body"]),
            prev=str(data["prev"]),
            hash=str(data["hash"]),
        )


def entry_hash(seq: int, kind: str, at: str, body: dict[str, Any], prev: str) -> str:
    return sha256_hex(canonical({"seq": seq, "kind": kind, "at": at, "body": body, "prev": prev}))


class Chain:
    """Appends entries; `head` is the hash that seals everything so far."""

    def __init__(self, entries: list[Entry] | None = None) -> None:
        self._entries: list[Entry] = []
        for entry in entries or []:
            self._accept(entry)

    @property
    def entries(self) -> list[Entry]:
        return list(self._entries)

    @property
    def head(self) -> str:
        return self._entries[-1].hash if self._entries else GENESIS

    def __len__(self) -> int:
        return len(self._entries)

    def append(self, kind: str, at: str, body: dict[str, Any]) -> Entry:
        if kind not in ("segment", "event"):
            raise ValueError(f"unknown entry kind {kind!r}")
        seq = len(self._entries)
        entry = Entry(seq, kind, at, body, self.head, entry_hash(seq, kind, at, body, self.head))
        self._entries.append(entry)
        return entry

    def _accept(self, entry: Entry) -> None:
        problem = check_link(entry, len(self._entries), self.head)
        if problem:
            raise ValueError(problem)
        self._entries.append(entry)


def check_link(entry: Entry, expected_seq: int, expected_prev: str) -> str | None:
    """Why `entry` does not follow a chain of `expected_seq` entries ending in `expected_prev`."""
    if entry.seq != expected_seq:
        return f"entry {expected_seq}: has sequence number {entry.seq} (missing or reordered)"
    if entry.prev != expected_prev:
        return f"entry {entry.seq}: does not follow entry {entry.seq - 1} (prev hash differs)"
    if entry_hash(entry.seq, entry.kind, entry.at, entry.body, entry.prev) != entry.hash:
        return f"entry {entry.seq}: its content does not match its hash (edited)"
    return None


def verify_chain(entries: list[Entry]) -> list[str]:
    """Every problem in the chain, in order; empty when it is intact."""
    problems: list[str] = []
    prev = GENESIS
    for index, entry in enumerate(entries):
        problem = check_link(entry, index, prev)
        if problem:
            problems.append(problem)
        prev = entry.hash
    return problems


class ChainLog:
    """A chain persisted as JSON lines, every line fsync'd, so it survives a crash.

    Reopening an existing log verifies it and continues where it stopped; a torn last line (the
    process died mid-write) is set aside in `torn` for the caller to record, never silently lost.

    With `write_behind`, `append()` links the entry in memory at once and a writer thread
    writes and fsyncs the lines, in order, several per fsync when they come together: a live
    session's event loop must not wait for the disk (an fsync here takes about 6 ms, and a
    session appends an entry per segment per participant every few seconds). `flush()` waits
    until every line appended so far is on disk; `close()` flushes and stops the thread.
    """

    def __init__(self, path: Path, *, write_behind: bool = False) -> None:
        self.path = path
        self.write_behind = write_behind
        self._pending: list[str] = []
        self._queued = 0  # lines appended
        self._durable = 0  # lines written and fsync'd
        self._closed = False
        self._error: OSError | None = None
        self._cond = threading.Condition()
        self._writer: threading.Thread | None = None
        self.torn: str | None = None
        entries: list[Entry] = []
        if path.exists():
            lines = path.read_text(encoding="utf-8").split("\n")
            if lines and lines[-1] == "":
                lines.pop()
            for number, line in enumerate(lines):
                try:
                    entries.append(Entry.from_dict(json.loads(line)))
                except (ValueError, KeyError, TypeError):
                    if number != len(lines) - 1:
                        raise ValueError(f"{path}: line {number + 1} is damaged") from None
                    self.torn = line
        self.chain = Chain(entries)
        if self.torn is not None:
            self._rewrite()

    def _rewrite(self) -> None:
        # Keep the torn bytes beside the log (evidence is never deleted), then drop them from it.
        torn_path = self.path.with_suffix(self.path.suffix + ".torn")
        with torn_path.open("a", encoding="utf-8") as fh:
            fh.write((self.torn or "") + "\n")
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        tmp.write_text("".join(json.dumps(e.as_dict()) + "\n" for e in self.chain.entries))
        os.replace(tmp, self.path)

    def append(self, kind: str, at: str, body: dict[str, Any]) -> Entry:
        entry = self.chain.append(kind, at, body)
        line = json.dumps(entry.as_dict(), ensure_ascii=False) + "\n"
        if not self.write_behind:
            self._write([line])
            return entry
        with self._cond:
            if self._closed:
                raise RuntimeError(f"{self.path}: the chain log is closed")
            self._pending.append(line)
            self._queued += 1
            self._cond.notify_all()
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._run, name=f"chain-{self.path.parent.name}", daemon=True
                )
                self._writer.start()
        return entry

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every line appended so far is on disk. A failed write is retried; if
        the lines are still not written when `timeout` runs out, the last OSError is raised
        (TimeoutError if none)."""
        with self._cond:
            target = self._queued
            if not self._cond.wait_for(lambda: self._durable >= target, timeout):
                if self._error is not None:
                    raise self._error
                raise TimeoutError(f"{self.path}: {target - self._durable} line(s) not yet written")

    def close(self, timeout: float | None = None) -> None:
        """Flush, then stop the writer; appending afterwards is an error."""
        self.flush(timeout)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            writer = self._writer
        if writer is not None:
            writer.join(timeout)

    def _write(self, lines: list[str]) -> None:
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write("".join(lines))
            fh.flush()
            os.fsync(fh.fileno())

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._pending) or self._closed)
                if not self._pending:
                    return
                lines, self._pending = self._pending, []
                target = self._durable + len(lines)
            try:
                self._write(lines)
            except OSError as exc:
                # Kept in order for the next attempt; flush() reports the failure meanwhile.
                logger.exception("chain log %s: write failed, will retry", self.path)
                with self._cond:
                    self._error = exc
                    self._pending[:0] = lines
                    self._cond.notify_all()
                    self._cond.wait(1.0)
                continue
            with self._cond:
                self._durable = target
                self._error = None
                self._cond.notify_all()
