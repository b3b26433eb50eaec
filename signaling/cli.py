"""The `notarylink` command."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import replace

from signaling import accounts_cli, evidence_cli, journal_cli
from signaling.logs import configure_logging
from signaling.settings import SettingsError, env_name, load_settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="notarylink",
        description="NotaryLink: remote video notarization with sealed, verifiable evidence.",
        epilog="Settings come from NOTARYLINK_* environment variables and an optional .env file "
        "(see the README's table).",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = commands.add_parser("serve", help="run the platform (HTTP, WebSocket, media)")
    serve.add_argument("--host", help=f"bind address (default: {env_name('host')})")
    serve.add_argument("--port", type=int, help=f"port (default: {env_name('port')})")
    serve.add_argument(
        "--local-s3",
        action="store_true",
        help="development: start a local S3 server (SeaweedFS) with data under the data dir",
    )

    commands.add_parser("settings", help="print the effective settings, secrets masked")
    accounts_cli.add_parser(commands)
    journal_cli.add_parser(commands)
    identity = commands.add_parser("identity", help="face matching tools")
    tools = identity.add_subparsers(dest="tool", metavar="TOOL", required=True)
    tools.add_parser(
        "calibrate",
        help="face distance distributions and the threshold for a target false-match rate "
        "(DIR: one folder of photos per person; --help for options)",
    )
    evidence_cli.add_parsers(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:2] == ["identity", "calibrate"]:
        # Its own options (and --help) belong to it; face work loads dlib, so only here.
        from identity.calibrate import main as calibrate

        return calibrate(argv[2:])
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"notarylink: invalid setting: {exc}", file=sys.stderr)
        return 2
    if args.command == "settings":
        print(json.dumps(settings.describe(), indent=2, ensure_ascii=False))
        return 0
    if args.command == "accounts":
        return accounts_cli.run(settings, args)
    if args.command == "journal":
        return journal_cli.run(settings, args)
    if args.command == "verify":
        return evidence_cli.run_verify(settings, args)
    if args.command == "export":
        return evidence_cli.run_export(settings, args)
    configure_logging(settings.log_level, settings.log_format)
    if args.host:
        settings = replace(settings, host=args.host)
    if args.port:
        settings = replace(settings, port=args.port)
    # Imported here: the media stack takes seconds to load, and `verify` needs none of it.
    from signaling.serve import serve

    return serve(settings, local_s3=args.local_s3)


if __name__ == "__main__":
    raise SystemExit(main())
