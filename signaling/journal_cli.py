"""`notarylink journal verify|head`: check the case journal's hash chain in the database."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from typing import TextIO

from sqlalchemy.exc import SQLAlchemyError

from notary import journal
from notary.db import create_engine
from signaling.settings import Settings

_ANCHOR = re.compile(r"^([1-9][0-9]*):([0-9a-f]{64})$")


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("journal", help="the case journal (append-only, hash-chained)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = actions.add_parser(
        "verify",
        help="recompute the journal's hash chain; exit 0 if intact, 1 if altered, 2 on error",
    )
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.add_argument(
        "--anchor",
        action="append",
        default=[],
        metavar="SEQ:HASH",
        help="an entry recorded earlier (from `journal head`) that must still be there, "
        "unchanged; catches a rewritten or cut chain; repeatable",
    )
    actions.add_parser("head", help="print SEQ:HASH of the newest entry, to keep as an anchor")


def parse_anchor(text: str) -> tuple[int, str]:
    match = _ANCHOR.match(text.strip().lower())
    if not match:
        raise ValueError(f"anchor {text!r}: expected SEQ:HASH (64 hex digits)")
    return int(match.group(1)), match.group(2)


async def _verify(url: str, anchors: list[tuple[int, str]]) -> journal.Report:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                # One snapshot for the whole walk, while the platform keeps appending.
                await conn.execution_options(isolation_level="REPEATABLE READ")
            async with conn.begin():
                return await journal.verify(conn, anchors=anchors)
    finally:
        await engine.dispose()


async def _head(url: str) -> tuple[int, str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await journal.head(conn)
    finally:
        await engine.dispose()


def print_report(report: journal.Report, as_json: bool, out: TextIO = sys.stdout) -> None:
    if as_json:
        out.write(json.dumps(report.as_dict(), ensure_ascii=False, indent=2) + "\n")
        return
    out.write(f"Journal: {report.entries} entries, head {report.head_seq}:{report.head_hash}\n")
    for problem in report.problems:
        out.write(f"  [FAILED] entry {problem.seq}: {problem.kind}: {problem.message}\n")
    if report.truncated:
        out.write("  ... more problems not shown\n")
    out.write("VERIFIED: the journal is intact\n" if report.ok else "NOT VERIFIED: altered\n")


def run(settings: Settings, args: argparse.Namespace) -> int:
    url = settings.effective_database_url
    try:
        if args.action == "head":
            seq, digest = asyncio.run(_head(url))
            print(f"{seq}:{digest}")
            return 0
        anchors = [parse_anchor(a) for a in args.anchor]
        report = asyncio.run(_verify(url, anchors))
    except ValueError as exc:
        print(f"notarylink journal: {exc}", file=sys.stderr)
        return 2
    except (SQLAlchemyError, OSError) as exc:
        # The URL may hold a password: name the error's type and the database's own message.
        cause = getattr(exc, "orig", None) or exc
        print(
            f"notarylink journal: cannot read the journal: {type(cause).__name__}: {cause}",
            file=sys.stderr,
        )
        return 2
    print_report(report, args.json)
    return 0 if report.ok else 1
