"""`notarylink serve`: the platform in one process (with a local S3 server in development)."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

from media import core as media_core
from notary.db import migrate
from notary.roles import Role
from recorder.keys import SigningKeyError
from recorder.local_s3 import LocalS3Error, LocalS3Ports, LocalS3Server
from signaling import accounts_cli
from signaling.app import create_app
from signaling.appkeys import PLATFORM
from signaling.platform import Platform
from signaling.settings import Settings, env_name, prepare_secrets

log = logging.getLogger("notarylink")


def serve(settings: Settings, local_s3: bool) -> int:
    if local_s3 and settings.production:
        print("notarylink: --local-s3 is for development only", file=sys.stderr)
        return 2
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        settings = prepare_secrets(settings)
    except SigningKeyError as exc:
        print(f"notarylink: {env_name('signing_key_path')}: {exc}", file=sys.stderr)
        return 2
    s3: LocalS3Server | None = None
    try:
        if local_s3:
            s3 = _start_local_s3(settings)
        demo = None
        staff: dict[Role, Path] = {}
        if not settings.production:
            migrate(settings.effective_database_url)
            demo = asyncio.run(accounts_cli.seed_demo_notary(settings))
            staff = asyncio.run(accounts_cli.seed_demo_staff(settings))
        if not settings.forwarding_core:
            media_core.switch_off()
        # Decided now rather than at the first session: the check sends a packet on loopback.
        media_core.enabled()
        app = create_app(Platform.from_settings(settings))
        app.on_startup.append(warm_faces)
        _print_urls(settings, demo, staff)
        web.run_app(
            app,
            loop=new_event_loop(settings.event_loop),
            host=settings.host,
            port=settings.port,
            print=None,
            access_log=None,  # our middleware logs requests without query strings
            handle_signals=True,
        )
    except LocalS3Error as exc:
        print(f"notarylink: local S3 server: {exc}", file=sys.stderr)
        return 1
    finally:
        if s3 is not None:
            s3.stop()
    return 0


def new_event_loop(kind: str) -> asyncio.AbstractEventLoop:
    """The loop the server runs on: uvloop's handles each datagram in C, where asyncio's
    selector loop runs several Python frames per packet (docs/bench/README.md)."""
    if kind == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


async def warm_faces(app: web.Application) -> None:
    """Startup of the real server only: the face models load in the background while the
    server already answers (tests build the app without this hook and never pay for it)."""
    app[PLATFORM].warm_faces()


def _start_local_s3(settings: Settings) -> LocalS3Server:
    endpoint = urlsplit(settings.s3_endpoint)
    if endpoint.hostname not in ("127.0.0.1", "localhost") or endpoint.port is None:
        raise LocalS3Error(
            f"{env_name('s3_endpoint')} must be http://127.0.0.1:PORT to start a local S3 server"
        )
    server = LocalS3Server(
        data_dir=Path(settings.data_dir) / "s3",
        access_key=settings.s3_access_key,
        secret_key=settings.s3_secret_key.value,
        ports=LocalS3Ports.for_s3_port(endpoint.port),
    )
    server.start()
    log.info("local S3 server started", extra={"endpoint": server.endpoint})
    return server


def _print_urls(
    settings: Settings, demo_password: Path | None, staff: dict[Role, Path] | None = None
) -> None:
    base = f"http://{settings.host}:{settings.port}"
    demo = (
        f"Demo notary: {accounts_cli.DEMO_LOGIN}, password in {demo_password}\n"
        if demo_password is not None
        else ""
    )
    for role, path in (staff or {}).items():
        demo += f"Demo {role.value}: {accounts_cli.DEMO_STAFF[role][0]}, password in {path}\n"
    print(
        "\nNotaryLink is starting. Open:\n"
        f"  {base}/                  home page (中文 / English)\n"
        f"  {base}/static/staff.html notary: log in, create a video session, get join links\n"
        f"  {base}/readyz            readiness: database and object store\n"
        f"  {base}/api/openapi.json  the REST API\n"
        f"{demo}"
        "Press Ctrl-C to stop.\n",
        flush=True,
    )
