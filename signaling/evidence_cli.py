"""`notarylink verify`: check a session's evidence from a package (offline) or from the store."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

from recorder.export import export_session
from recorder.package import PackageError, ZipSource
from recorder.seal import load_public_key
from recorder.store import ObjectStore, connect
from recorder.store_source import StoreSource
from recorder.verify import EvidenceSource, Report, verify
from signaling.settings import Settings


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    check = commands.add_parser(
        "verify",
        help="verify a session's evidence: PACKAGE.zip offline, or SESSION_ID from the store",
    )
    check.add_argument("target", help="an evidence package (.zip) or a session id")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.add_argument(
        "--key", type=Path, help="the platform's published public key (PEM) to pin the signer"
    )
    export = commands.add_parser(
        "export", help="write a session's evidence package (zip) from the store"
    )
    export.add_argument("session_id")
    export.add_argument("-o", "--output", type=Path, help="default: SESSION_ID.zip here")
    check.add_argument(
        "--tsa-root",
        type=Path,
        action="append",
        default=[],
        help="a root certificate of the timestamp authority (PEM or DER); repeatable",
    )


class Progress:
    """A one-line progress bar on stderr, for packages with many segments."""

    def __init__(
        self, out: TextIO = sys.stderr, width: int = 30, label: str = "checking segments"
    ) -> None:
        self.out = out
        self.width = width
        self.label = label

    def __call__(self, done: int, total: int) -> None:
        filled = self.width * done // max(total, 1)
        bar = "#" * filled + "-" * (self.width - filled)
        end = "\n" if done >= total else ""
        self.out.write(f"\r{self.label} [{bar}] {done}/{total}{end}")
        self.out.flush()


def _store_source(settings: Settings, session_id: str) -> StoreSource:
    store = ObjectStore(
        connect(
            settings.s3_endpoint,
            settings.s3_access_key,
            settings.s3_secret_key.value,
            settings.s3_region,
        )
    )
    return StoreSource.for_session(store, settings.evidence_bucket, session_id)


def _source(settings: Settings, target: str) -> EvidenceSource:
    path = Path(target)
    if path.suffix == ".zip" or path.is_file():
        return ZipSource(path)
    return _store_source(settings, target)


def print_report(report: Report, as_json: bool, out: TextIO = sys.stdout) -> None:
    if as_json:
        out.write(json.dumps(report.as_dict(), ensure_ascii=False, indent=2) + "\n")
        return
    out.write(f"Session {report.session_id}\n")
    for check in report.checks:
        out.write(f"  [{'ok' if check.ok else 'FAILED'}] {check.name}: {check.message}\n")
    verdict = "VERIFIED: the evidence is complete and unaltered" if report.ok else "NOT VERIFIED"
    out.write(f"{verdict}\n")


def run_verify(settings: Settings, args: argparse.Namespace) -> int:
    try:
        source = _source(settings, args.target)
        key = load_public_key(args.key.read_bytes()) if args.key else None
        roots = [path.read_bytes() for path in args.tsa_root]
    except (PackageError, LookupError, OSError, ValueError) as exc:
        print(f"notarylink verify: {exc}", file=sys.stderr)
        return 2
    report = verify(
        source, trusted_key=key, tsa_roots=roots, progress=None if args.json else Progress()
    )
    print_report(report, args.json)
    return 0 if report.ok else 1


class StageProgress:
    """Progress of an export: one bar per stage (fetching segments, joining per participant)."""

    def __init__(self, out: TextIO = sys.stderr) -> None:
        self.bars = {
            "fetch": Progress(out, label="fetching segments"),
            "join": Progress(out, label="joining playback"),
        }

    def __call__(self, stage: str, done: int, total: int) -> None:
        self.bars[stage](done, total)


def run_export(settings: Settings, args: argparse.Namespace) -> int:
    out = args.output or Path(f"{args.session_id}.zip")
    try:
        source = _store_source(settings, args.session_id)
        export_session(source, out, progress=StageProgress())
    except (LookupError, OSError, ValueError) as exc:
        print(f"notarylink export: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out} — check it with: notarylink verify {out}")
    return 0
