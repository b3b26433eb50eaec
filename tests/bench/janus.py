"""Janus (Debian's `janus` 1.1.2) as the benchmark's reference media server.

The harness writes a complete configuration into a temp dir and starts `janus` on it, so nothing
of /etc/janus is used: ICE on one local address only (no STUN, no TURN, no mDNS, no IPv6), the
HTTP transport alone, bound to 127.0.0.1 on a free port, and the VideoRoom plugin alone, with
one room per session, each recording its publishers' raw RTP into `.mjr` files in the temp dir.
Every other plugin, transport, event handler and logger is left out: the folders janus loads
them from hold links to those two libraries only.

Janus never gathers ICE candidates on a loopback interface (it skips interfaces flagged
IFF_LOOPBACK, whatever `ice_enforce_list` says: tried with "lo" and "127.0.0.1", it then
falls back to every other address). So its ICE is pinned to this machine's own IPv4 address,
and the load generator uses that address for Janus. A packet to one of the host's own
addresses never leaves it: Linux delivers it through `lo` (`ip route get` says "local ... dev
lo"), the same path as 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import shutil
import socket
import struct
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

JANUS_LIBRARY_DIRS = (
    Path("/usr/lib/x86_64-linux-gnu/janus"),
    Path("/usr/lib/aarch64-linux-gnu/janus"),
    Path("/usr/lib/janus"),
    Path("/opt/janus/lib/janus"),
)
VIDEOROOM = "libjanus_videoroom.so"
HTTP_TRANSPORT = "libjanus_http.so"
BASE_PATH = "/janus"
FIRST_ROOM = 1000  # room numbers: FIRST_ROOM + session index


class JanusMissing(RuntimeError):
    """Janus, or one of the two libraries the benchmark needs, is not installed."""


SIOCGIFADDR = 0x8915  # Linux ioctl: an interface's IPv4 address


def _interface_ipv4(name: str) -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("256s", name.encode()[:15])
        try:
            reply = fcntl.ioctl(sock.fileno(), SIOCGIFADDR, request)
        except OSError:  # no IPv4 address on it (or it is down)
            return None
    return socket.inet_ntoa(reply[20:24])


def host_address() -> str:
    """This machine's first IPv4 address that is not loopback (Janus's ICE address)."""
    for _, name in socket.if_nameindex():
        address = _interface_ipv4(name)
        if address is not None and not address.startswith("127."):
            return address
    raise JanusMissing("no IPv4 address besides loopback: Janus cannot gather ICE candidates")


# --- the configuration ------------------------------------------------------------------------

JcfgValue = str | bool | int | Sequence[str] | Mapping[str, Any]


def _value(value: JcfgValue) -> str:
    # bool first: it is an int too.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        if '"' in value or "\\" in value or "\n" in value:
            raise ValueError(f"not a plain jcfg string: {value!r}")
        return f'"{value}"'
    if isinstance(value, Mapping):
        raise TypeError("nested sections are written by render_jcfg")
    return "[" + ", ".join(_value(item) for item in value) + "]"


def render_jcfg(sections: Mapping[str, Mapping[str, JcfgValue]]) -> str:
    """libconfig text (Janus's .jcfg) for sections of settings; one level of sub-sections."""
    lines: list[str] = []
    for name, settings in sections.items():
        lines.append(f"{name}: {{")
        for key, value in settings.items():
            if isinstance(value, Mapping):
                lines.append(f"\t{key}: {{")
                lines.extend(f"\t\t{k} = {_value(v)}" for k, v in value.items())
                lines.append("\t}")
            else:
                lines.append(f"\t{key} = {_value(value)}")
        lines.append("}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class JanusConfig:
    work_dir: Path  # configs, library links, recordings and the log go here
    http_port: int
    rooms: int  # one room per session, numbered FIRST_ROOM, FIRST_ROOM + 1, ...
    ice_address: str  # the only address of Janus's candidates (see the module's docstring)
    record: bool = True
    rtp_ports: tuple[int, int] = (20000, 40000)
    debug_level: int = 3  # warnings and errors (4, Janus's default, logs every session)
    session_timeout_s: int = 60
    event_loops: int = 0  # 0: Janus's default, one thread per handle

    @property
    def configs_dir(self) -> Path:
        return self.work_dir / "conf"

    @property
    def record_dir(self) -> Path:
        return self.work_dir / "recordings"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}{BASE_PATH}"

    def room(self, index: int) -> int:
        return FIRST_ROOM + index


def core_config(config: JanusConfig, libraries: Mapping[str, Path]) -> dict[str, dict[str, Any]]:
    general: dict[str, Any] = {
        "configs_folder": str(config.configs_dir),
        "plugins_folder": str(libraries["plugins"]),
        "transports_folder": str(libraries["transports"]),
        "events_folder": str(libraries["events"]),
        "loggers_folder": str(libraries["loggers"]),
        "debug_level": config.debug_level,
        "session_timeout": config.session_timeout_s,
        "server_name": "notarylink-bench",
    }
    if config.event_loops:
        general["event_loops"] = config.event_loops
    return {
        "general": general,
        "certificates": {},  # none: Janus makes a self-signed DTLS certificate at start
        "media": {
            "ipv6": False,
            "rtp_port_range": f"{config.rtp_ports[0]}-{config.rtp_ports[1]}",
        },
        "nat": {
            # One local address (see above): no STUN, no TURN, no mDNS.
            "ice_enforce_list": config.ice_address,
            "ignore_mdns": True,
            "full_trickle": False,  # candidates go in the SDP, as aiortc expects
            "nice_debug": False,
        },
        "plugins": {},
        "transports": {},
        "loggers": {},
        "events": {"broadcast": False},
    }


def http_config(config: JanusConfig) -> dict[str, dict[str, Any]]:
    return {
        "general": {
            "json": "plain",
            "base_path": BASE_PATH,
            "http": True,
            "port": config.http_port,
            "ip": "127.0.0.1",
            "https": False,
        },
        "admin": {"admin_http": False, "admin_https": False},
        "cors": {},
    }


def videoroom_config(config: JanusConfig) -> dict[str, dict[str, Any]]:
    sections: dict[str, dict[str, Any]] = {"general": {}}
    for index in range(config.rooms):
        room: dict[str, Any] = {
            "description": f"bench {index}",
            "publishers": 2,
            "videocodec": "vp8",
            "audiocodec": "opus",
            "bitrate": 0,  # no REMB cap: the source is ~1 Mbit/s, as for the other servers
            "fir_freq": 0,  # no periodic keyframe requests: the file's keyframes are fixed
            "notify_joining": False,
            "record": config.record,
        }
        if config.record:
            room["rec_dir"] = str(config.record_dir)
        sections[f"room-{config.room(index)}"] = room
    return sections


def find_libraries() -> Path:
    for root in JANUS_LIBRARY_DIRS:
        if (root / "plugins" / VIDEOROOM).exists() and (
            root / "transports" / HTTP_TRANSPORT
        ).exists():
            return root
    raise JanusMissing(f"no {VIDEOROOM} and {HTTP_TRANSPORT} under {JANUS_LIBRARY_DIRS}")


def janus_binary() -> str:
    found = shutil.which("janus") or ("/usr/bin/janus" if Path("/usr/bin/janus").exists() else "")
    if not found:
        raise JanusMissing("the janus binary is missing: apt-get install -y janus")
    return found


def available() -> str:
    """Empty when janus can run here, else why not (for skips and the report)."""
    try:
        janus_binary()
        find_libraries()
    except JanusMissing as exc:
        return str(exc)
    return ""


def write_config(config: JanusConfig, library_root: Path) -> Path:
    """Every file janus reads, under config.work_dir; returns the path of janus.jcfg."""
    libraries = {name: config.work_dir / "lib" / name for name in ("plugins", "transports")}
    libraries |= {name: config.work_dir / "lib" / name for name in ("events", "loggers")}
    for folder in libraries.values():
        folder.mkdir(parents=True, exist_ok=True)
    # Janus loads every .so in these folders: link only the two the benchmark uses.
    for kind, name in (("plugins", VIDEOROOM), ("transports", HTTP_TRANSPORT)):
        link = libraries[kind] / name
        if not link.exists():
            link.symlink_to(library_root / kind / name)
    config.configs_dir.mkdir(parents=True, exist_ok=True)
    config.record_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "janus.jcfg": core_config(config, libraries),
        "janus.transport.http.jcfg": http_config(config),
        "janus.plugin.videoroom.jcfg": videoroom_config(config),
    }
    for name, sections in files.items():
        (config.configs_dir / name).write_text(render_jcfg(sections))
    return config.configs_dir / "janus.jcfg"


def command(config: JanusConfig, core: Path) -> list[str]:
    return [
        janus_binary(),
        "--config",
        str(core),
        "--configs-folder",
        str(config.configs_dir),
        "--disable-colors",
    ]


def recordings(config: JanusConfig) -> list[Path]:
    return sorted(config.record_dir.glob("*.mjr"))


# --- the process ------------------------------------------------------------------------------


async def wait_ready(
    base_url: str, proc: asyncio.subprocess.Process, log: Path, timeout: float = 30.0
) -> dict[str, Any]:
    """Until GET /janus/info answers (the HTTP transport is up, the plugin loaded)."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                raise RuntimeError(f"janus exited ({proc.returncode}):\n{_tail(log)}")
            with contextlib.suppress(aiohttp.ClientError, TimeoutError, ValueError):
                async with http.get(f"{base_url}/info") as response:
                    info: dict[str, Any] = await response.json(content_type=None)
                    if response.status == 200 and "janus.plugin.videoroom" in info.get(
                        "plugins", {}
                    ):
                        return info
            await asyncio.sleep(0.2)
    raise RuntimeError(f"janus not ready in {timeout:.0f} s:\n{_tail(log)}")


@contextlib.asynccontextmanager
async def running(config: JanusConfig) -> AsyncIterator[asyncio.subprocess.Process]:
    """Janus on `config`, ready; stopped (TERM, then KILL) on the way out."""
    # Imported here: forwarding imports the project's media stack, which unit tests of the
    # configuration above do not need.
    from tests.bench.forwarding import _clean_env, process

    core = write_config(config, find_libraries())
    log = config.work_dir / "janus.log"
    async with process(
        command(config, core), cwd=config.work_dir, env=_clean_env({}), log=log
    ) as proc:
        await wait_ready(config.base_url, proc, log)
        yield proc


def _tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
