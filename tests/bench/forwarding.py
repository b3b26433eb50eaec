"""Benchmark of issue 3: N two-party sessions through the server, and through a naive one.

    python -m tests.bench.forwarding --sessions 1,5,10,20 --naive-sessions 1,2

For each N: a fresh server process (ours: `notarylink serve` through tests/bench/serve_loopback;
naive: tests/bench/naive_server), N sessions created through the REST API, and a load generator
process (tests/bench/loadgen) that plays both participants of every session from pre-encoded
media and counts, without decoding, the frames each receives. Once every session flows and a
warm-up has passed, the CPU time of the server and of the load generator is read from /proc over
a steady window, and every subscriber's delivered frame rate over the same window.

The output is a table, then, as the last line, one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from tests.bench import procstat
from tests.bench.source import FPS, describe, make_source_webm, media_duration

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
NOTARY_LOGIN = "bench-notary@example.org"
NOTARY_PASSWORD = "bench passphrase 2026"
SUSTAINED_FPS = 25.0  # of the source's 30: the goal's bar for "still receiving"
DISTURBED_PCT = 25.0  # other processes' CPU (% of a core) that makes a window untrustworthy


@dataclass
class Config:
    sessions: list[int] = field(default_factory=lambda: [1, 5, 10, 20])
    naive_sessions: list[int] = field(default_factory=lambda: [1, 2])
    window_s: float = 10.0
    warmup_s: float = 3.0
    idle_s: float = 3.0  # the server's CPU with no session, before the load generator starts
    # This machine is shared: before each run, wait (a while) for the others to be quiet, and
    # run again (once) a measurement that other processes disturbed.
    quiet_wait_s: float = 10.0
    retries: int = 1
    media_seconds: int = 10
    width: int = 640
    height: int = 480
    bit_rate: int = 1_000_000
    workers: int = 1  # load generator processes (sessions are split among them)
    setup_concurrency: int = 4
    flow_timeout_s: float = 60.0
    # True: each publisher is an aiortc MediaPlayer(decode=False) reading the file in its own
    # thread, as in the text; False: the same packets replayed from memory, paced on
    # the event loop (tests/bench/paced_source.py), which leaves more CPU to the servers.
    player: bool = False
    # Optional: py-spy (a separate install, never in the project's venv) samples the server
    # and the load generator during each window; collapsed stacks are written to profile_dir.
    py_spy: str = ""
    profile_dir: Path | None = None
    profile_loadgen: bool = False


@dataclass
class RunResult:
    server: str  # "ours" or "naive"
    sessions: int
    window_s: float
    server_cpu_pct: float
    server_rss_idle_mb: float
    server_rss_mb: float
    loadgen_cpu_pct: float
    loadgen_workers: int
    machine_busy_pct: float  # all cores, everyone's processes: 100 = the machine is full
    server_idle_cpu_pct: float  # the same server before any session
    connections: dict[str, dict[str, int]]  # participants' peer connection states
    setup_s: float
    failed: list[str]
    subscribers: list[dict[str, Any]]
    consent_expired: int = 0  # server-side ICE connections that lost consent (aioice's log)

    @property
    def cpu_pct_per_session(self) -> float:
        return self.server_cpu_pct / self.sessions

    @property
    def rss_mb_per_session(self) -> float:
        return (self.server_rss_mb - self.server_rss_idle_mb) / self.sessions

    def fps(self, kind: str = "video") -> list[float]:
        return [s[f"{kind}_fps"] for s in self.subscribers]

    @property
    def delivered_fps_min(self) -> float:
        rates = self.fps()
        # A subscriber that never got going counts as receiving nothing.
        missing = 2 * self.sessions - len(rates)
        return 0.0 if missing > 0 or not rates else min(rates)

    @property
    def sustained(self) -> bool:
        return not self.failed and self.delivered_fps_min >= SUSTAINED_FPS

    @property
    def loadgen_saturated(self) -> bool:
        """Its processes were (almost) always on a core: its own limits shape the figures."""
        return self.loadgen_cpu_pct >= 90.0 * self.loadgen_workers

    @property
    def machine_saturated(self) -> bool:
        return self.machine_busy_pct >= 90.0

    @property
    def others_cpu_pct(self) -> float:
        """CPU (% of one core) of everything but the server and the load generator: the
        orchestrator, and whatever else runs on this machine (other people's tests)."""
        cores = os.cpu_count() or 1
        return max(0.0, self.machine_busy_pct * cores - self.server_cpu_pct - self.loadgen_cpu_pct)

    def notes(self) -> list[str]:
        notes = []
        if self.failed:
            notes.append(f"{len(self.failed)} session(s) never flowed: {self.failed[:2]}")
        lost = {k: v for k, v in self.connections.get("end", {}).items() if k != "connected"}
        if lost:
            notes.append(f"participants' connections not connected at the end: {lost}")
        if self.consent_expired:
            notes.append(
                f"{self.consent_expired} server-side ICE connection(s) lost consent (no STUN "
                "answer in time: an overloaded process), their media stopped"
            )
        if self.loadgen_saturated:
            notes.append("the load generator was saturated (its own limit shapes the figures)")
        if self.machine_saturated:
            notes.append(f"the machine was saturated ({self.machine_busy_pct:.0f}% busy)")
        if self.others_cpu_pct >= DISTURBED_PCT:
            notes.append(
                f"other processes used {self.others_cpu_pct:.0f}% of a core during the window: "
                "the figures are disturbed, run again on a quiet machine"
            )
        return notes

    def summary(self) -> dict[str, Any]:
        video = self.fps("video") or [0.0]
        audio = self.fps("audio") or [0.0]
        kbps = [s["video_kbps"] for s in self.subscribers] or [0.0]
        return {
            "server": self.server,
            "sessions": self.sessions,
            "window_s": round(self.window_s, 2),
            "server_cpu_pct": round(self.server_cpu_pct, 1),
            "cpu_pct_per_session": round(self.cpu_pct_per_session, 2),
            "server_rss_mb": round(self.server_rss_mb, 1),
            "rss_mb_per_session": round(self.rss_mb_per_session, 2),
            "loadgen_cpu_pct": round(self.loadgen_cpu_pct, 1),
            "loadgen_cpu_pct_per_session": round(self.loadgen_cpu_pct / self.sessions, 2),
            "loadgen_saturated": self.loadgen_saturated,
            "machine_busy_pct": round(self.machine_busy_pct, 1),
            "machine_saturated": self.machine_saturated,
            "others_cpu_pct": round(self.others_cpu_pct, 1),
            "server_idle_cpu_pct": round(self.server_idle_cpu_pct, 2),
            "connections_at_start": self.connections.get("start", {}),
            "connections_at_end": self.connections.get("end", {}),
            "server_ice_consent_expired": self.consent_expired,
            "delivered_fps_min": round(self.delivered_fps_min, 2),
            "delivered_fps_median": round(statistics.median(video), 2),
            "audio_fps_min": round(min(audio), 2),
            "video_kbps_mean": round(statistics.fmean(kbps)),
            "subscribers": len(self.subscribers),
            "sustained": self.sustained,
            "setup_s": round(self.setup_s, 1),
            "failed": self.failed[:5],
            "notes": self.notes(),
        }


# --- processes --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


PASSED_SETTINGS = (
    "NOTARYLINK_EVENT_LOOP",
    "NOTARYLINK_FACE_ENCODER_PROCESSES",
    "NOTARYLINK_FORWARDING_CORE",
)


def _clean_env(extra: dict[str, str]) -> dict[str, str]:
    # NOTARYLINK_EVENT_LOOP, _FACE_ENCODER_PROCESSES and _FORWARDING_CORE pass: comparing the
    # servers' event loops, where face encodings run, or forwarding in C or Python, is a
    # bench's question.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("NOTARYLINK_") or k in PASSED_SETTINGS
    }
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env.update(extra)
    return env


@contextlib.asynccontextmanager
async def process(
    args: list[str], *, cwd: Path, env: dict[str, str], log: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    """A child in its own process group, stopped (TERM, then KILL) whatever happens."""
    with log.open("ab") as sink:
        proc = await asyncio.create_subprocess_exec(
            *args, cwd=cwd, env=env, stdout=sink, stderr=sink, start_new_session=True
        )
    try:
        yield proc
    finally:
        await stop_group(proc)


async def stop_group(proc: asyncio.subprocess.Process, grace: float = 10.0) -> None:
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), grace)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()


async def wait_healthy(base: str, proc: asyncio.subprocess.Process, log: Path) -> None:
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                raise RuntimeError(f"server exited ({proc.returncode}):\n{_tail(log)}")
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with http.get(f"{base}/healthz") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"server not healthy in 60 s:\n{_tail(log)}")


def _count(log: Path, text: str) -> int:
    try:
        return log.read_text(errors="replace").count(text)
    except OSError:
        return 0


def _tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# --- our server -------------------------------------------------------------------------------


def prepare_database(data_dir: Path) -> None:
    """Schema, an office and a notary account, before the server starts."""
    from notary.accounts import create_account, ensure_office
    from notary.db import create_engine, migrate
    from notary.roles import Role

    data_dir.mkdir(parents=True, exist_ok=True)
    url = f"sqlite+aiosqlite:///{(data_dir / 'notarylink.db').resolve()}"
    migrate(url)

    async def accounts() -> None:
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                office = await ensure_office(
                    conn, "BENCH", "基准测试公证处", "Benchmark Notary Office", "Asia/Shanghai"
                )
                await create_account(
                    conn,
                    role=Role.NOTARY,
                    display_name="Bench Notary",
                    login=NOTARY_LOGIN,
                    password=NOTARY_PASSWORD,
                    office_id=office,
                )
        finally:
            await engine.dispose()

    asyncio.run(accounts())


async def create_rooms(base: str, count: int) -> list[dict[str, str]]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        async with http.post(
            f"{base}/api/auth/login", json={"login": NOTARY_LOGIN, "password": NOTARY_PASSWORD}
        ) as response:
            body = await response.json()
            if response.status != 200:
                raise RuntimeError(f"login failed: {response.status} {body}")
        headers = {"Authorization": f"Bearer {body['token']}"}
        rooms = []
        for index in range(count):
            async with http.post(
                f"{base}/api/rooms",
                json={
                    "title": f"基准 {index}",
                    "case_ref": f"BENCH-{index}",
                    "participants": [{"role": "applicant", "name": f"申请人 {index}"}],
                },
                headers=headers,
            ) as response:
                created = await response.json()
                if response.status != 201:
                    raise RuntimeError(f"POST /api/rooms: {response.status} {created}")
            tokens = {link["role"]: link["token"] for link in created["links"]}
            rooms.append(
                {"label": f"s{index}", "notary": tokens["notary"], "applicant": tokens["applicant"]}
            )
        return rooms


# --- one measurement --------------------------------------------------------------------------


class Worker:
    """One load generator process and its line protocol (see tests/bench/loadgen.py)."""

    def __init__(self, proc: asyncio.subprocess.Process, log: Path) -> None:
        self.proc = proc
        self.log = log

    async def expect(self, kind: str, timeout: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        try:
            async with asyncio.timeout(timeout):
                while True:
                    raw = await self.proc.stdout.readline()
                    if not raw:
                        raise RuntimeError(f"load generator ended:\n{_tail(self.log)}")
                    head, _, payload = raw.decode().strip().partition(" ")
                    if head == kind:
                        return json.loads(payload) if payload else {}
        except TimeoutError:
            raise RuntimeError(f"no {kind} from the load generator in {timeout:.0f} s") from None

    async def command(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{line}\n".encode())
        await self.proc.stdin.drain()


async def start_worker(
    stack: contextlib.AsyncExitStack,
    module: str,
    spec: Path,
    log: Path,
    *,
    line_limit: int = 2**16,
) -> Worker:
    """A load generator process (`python -m MODULE SPEC`), stopped when `stack` closes."""
    with log.open("ab") as sink:
        proc = await asyncio.create_subprocess_exec(
            PYTHON,
            "-m",
            module,
            str(spec),
            cwd=spec.parent,
            env=_clean_env({}),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=sink,
            start_new_session=True,
            limit=line_limit,
        )
    stack.push_async_callback(stop_group, proc, 30.0)
    return Worker(proc, log)


async def measure(
    server: str,
    base: str,
    server_pid: int,
    rooms: list[dict[str, str]],
    config: Config,
    source: Path,
    work: Path,
) -> RunResult:
    duration = media_duration(source)
    count = len(rooms)
    workers_n = max(1, min(config.workers, count))
    shares = [rooms[i::workers_n] for i in range(workers_n)]
    idle_rss = procstat.rss_bytes(server_pid)
    # The server's whole process tree: its face encoder processes are its CPU too.
    idle_before, idle_started = procstat.tree_cpu(server_pid), time.monotonic()
    await asyncio.sleep(config.idle_s)
    idle_cpu = procstat.cpu_pct(
        idle_before, procstat.tree_cpu(server_pid), time.monotonic() - idle_started
    )
    setup_budget = config.flow_timeout_s + 10 * count
    workers: list[Worker] = []
    async with contextlib.AsyncExitStack() as stack:
        for index, share in enumerate(shares):
            spec = work / f"{server}-{count}-w{index}.json"
            spec.write_text(
                json.dumps(
                    {
                        "ws_url": base.replace("http://", "ws://") + "/ws",
                        "source": str(source),
                        "duration": duration,
                        "sessions": share,
                        "concurrency": config.setup_concurrency,
                        "flow_timeout": config.flow_timeout_s,
                        "player": config.player,
                        "deadline": setup_budget + config.warmup_s + config.window_s + 120,
                    }
                )
            )
            log = work / f"loadgen-{server}-{count}-w{index}.log"
            workers.append(await start_worker(stack, "tests.bench.loadgen", spec, log))
        ready = await asyncio.gather(*(w.expect("READY", setup_budget) for w in workers))
        failed = [f for r in ready for f in r["failed"]]
        setup_s = max(r["setup_s"] for r in ready)
        await asyncio.sleep(config.warmup_s)

        await asyncio.gather(*(w.command("START") for w in workers))
        opened = await asyncio.gather(*(w.expect("STARTED", 10) for w in workers))
        started = time.monotonic()
        profilers = await _profile(config, server, count, server_pid, [w.proc.pid for w in workers])
        machine_before = procstat.machine()
        server_before = procstat.tree_cpu(server_pid)
        loadgen_before = [procstat.cpu(w.proc.pid) for w in workers]
        await asyncio.sleep(config.window_s)
        await asyncio.gather(*(w.command("STOP") for w in workers))
        server_after = procstat.tree_cpu(server_pid)
        loadgen_after = [procstat.cpu(w.proc.pid) for w in workers]
        machine_after = procstat.machine()
        elapsed = time.monotonic() - started
        rss = procstat.rss_bytes(server_pid)
        results = await asyncio.gather(*(w.expect("RESULT", 30) for w in workers))
        for profiler in profilers:  # py-spy writes its file when its duration is over
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(profiler.wait(), 60)
            await stop_group(profiler)
        for worker in workers:  # they close their sessions and exit by themselves
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(worker.proc.wait(), 30)

    window = statistics.fmean(r["window_s"] for r in results)
    return RunResult(
        server=server,
        sessions=count,
        window_s=window,
        server_cpu_pct=procstat.cpu_pct(server_before, server_after, elapsed),
        server_rss_idle_mb=idle_rss / 2**20,
        server_rss_mb=rss / 2**20,
        loadgen_cpu_pct=sum(
            procstat.cpu_pct(b, a, elapsed)
            for b, a in zip(loadgen_before, loadgen_after, strict=True)
        ),
        loadgen_workers=len(workers),
        machine_busy_pct=procstat.machine_busy_pct(machine_before, machine_after),
        server_idle_cpu_pct=idle_cpu,
        connections={
            "start": _merge(r["connections"] for r in opened),
            "end": _merge(r["connections"] for r in results),
        },
        setup_s=setup_s,
        failed=failed,
        subscribers=[s for r in results for s in r["subscribers"]],
    )


def _merge(parts: Any) -> dict[str, int]:
    merged: dict[str, int] = {}
    for part in parts:
        for key, value in part.items():
            merged[key] = merged.get(key, 0) + value
    return merged


async def _profile(
    config: Config, server: str, count: int, server_pid: int, loadgen_pids: list[int]
) -> list[asyncio.subprocess.Process]:
    if not config.py_spy or config.profile_dir is None:
        return []
    config.profile_dir.mkdir(parents=True, exist_ok=True)
    targets = [(f"{server}-{count}-server", server_pid)]
    if config.profile_loadgen:
        targets += [(f"{server}-{count}-loadgen{i}", pid) for i, pid in enumerate(loadgen_pids)]
    procs = []
    for name, pid in targets:
        out = config.profile_dir / f"{name}.txt"
        args = [config.py_spy, "record", "--pid", str(pid), "--duration", str(int(config.window_s))]
        args += ["--rate", "100", "--nonblocking", "--format", "raw", "--output", str(out)]
        with (config.profile_dir / f"{name}.log").open("wb") as sink:
            procs.append(
                await asyncio.create_subprocess_exec(
                    *args, stdout=sink, stderr=sink, start_new_session=True
                )
            )
    return procs


async def run_ours(count: int, config: Config, source: Path, work: Path) -> RunResult:
    data_dir = work / "ours-data"
    if not (data_dir / "notarylink.db").exists():
        await asyncio.to_thread(prepare_database, data_dir)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = _clean_env(
        {
            "NOTARYLINK_DATA_DIR": str(data_dir),
            "NOTARYLINK_PORT": str(port),
            "NOTARYLINK_PUBLIC_BASE_URL": base,
            # Nothing listens there: calls need no object store (readiness says it is down).
            "NOTARYLINK_S3_ENDPOINT": f"http://127.0.0.1:{free_port()}",
        }
    )
    log = work / f"server-ours-{count}.log"
    args = [PYTHON, "-m", "tests.bench.serve_loopback", "serve", "--host", "127.0.0.1"]
    async with process([*args, "--port", str(port)], cwd=work, env=env, log=log) as proc:
        await wait_healthy(base, proc, log)
        rooms = await create_rooms(base, count)
        await asyncio.sleep(1.0)  # let start-up work settle before the idle RSS is read
        result = await measure("ours", base, proc.pid, rooms, config, source, work)
    result.consent_expired = _count(log, "Consent to send expired")
    return result


async def run_naive(count: int, config: Config, source: Path, work: Path) -> RunResult:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = work / f"server-naive-{count}.log"
    args = [PYTHON, "-m", "tests.bench.naive_server", "--port", str(port)]
    async with process(args, cwd=work, env=_clean_env({}), log=log) as proc:
        await wait_healthy(base, proc, log)
        rooms = [
            {"label": f"n{i}", "notary": f"naive-{i}:notary", "applicant": f"naive-{i}:applicant"}
            for i in range(count)
        ]
        result = await measure("naive", base, proc.pid, rooms, config, source, work)
    result.consent_expired = _count(log, "Consent to send expired")
    return result


# --- the whole benchmark ----------------------------------------------------------------------


async def run_all(config: Config, work: Path, out: Any = sys.stdout) -> dict[str, Any]:
    began = time.monotonic()
    source = work / "source.webm"
    await asyncio.to_thread(
        make_source_webm,
        source,
        seconds=config.media_seconds,
        size=(config.width, config.height),
        bit_rate=config.bit_rate,
    )
    media = describe(source)
    print(f"source: {media}", file=out, flush=True)
    runs: list[RunResult] = []
    # Ours also runs at the naive server's N, so that the two compare at the same N.
    ours_counts = sorted(
        set(config.sessions) | set(config.naive_sessions if config.sessions else [])
    )
    for server, counts, runner in (
        ("ours", ours_counts, run_ours),
        ("naive", config.naive_sessions, run_naive),
    ):
        for count in counts:
            print(f"{server}: {count} session(s)...", file=out, flush=True)
            best: RunResult | None = None
            for _attempt in range(1 + config.retries):
                await wait_quiet(config.quiet_wait_s)
                try:
                    result = await runner(count, config, source, work)
                except Exception as exc:
                    print(f"  {server} N={count} failed: {exc}", file=out, flush=True)
                    break
                print(f"  {_row(result.summary())}", file=out, flush=True)
                if best is None or result.others_cpu_pct < best.others_cpu_pct:
                    best = result
                if result.others_cpu_pct < DISTURBED_PCT:
                    break
                print(f"  disturbed ({result.others_cpu_pct:.0f}% of a core)", file=out)
            if best is not None:
                runs.append(best)
    report = summarize(runs, config, media, time.monotonic() - began)
    print_table(runs, out)
    print(json.dumps(report, ensure_ascii=False), file=out, flush=True)
    return report


async def wait_quiet(limit_s: float) -> None:
    """Until the machine is almost idle for a second (others' tests), at most `limit_s`."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        before = procstat.machine()
        await asyncio.sleep(1.0)
        if procstat.machine_busy_pct(before, procstat.machine()) * (os.cpu_count() or 1) < 15:
            return


def summarize(
    runs: list[RunResult], config: Config, media: dict[str, Any], elapsed: float
) -> dict[str, Any]:
    ours = {r.sessions: r for r in runs if r.server == "ours"}
    naive = {r.sessions: r for r in runs if r.server == "naive"}
    # The headline N: the largest one asked for (not one added for the comparison).
    asked = [n for n in config.sessions if n in ours]
    top = ours[max(asked)] if asked else None
    # The naive server at the largest N it still sustains; if it sustains none, its smallest N
    # (its figure is then a floor: it would need more CPU than it got to deliver 30 fps).
    sustained = [n for n, r in naive.items() if r.sustained]
    naive_n = max(sustained) if sustained else (min(naive) if naive else None)
    naive_run = naive.get(naive_n) if naive_n is not None else None
    ours_same = ours.get(naive_n) if naive_n is not None else None
    if ours_same is None and ours and naive_n is not None:
        ours_same = ours[min(ours, key=lambda n: abs(n - naive_n))]
    ratio = (
        naive_run.cpu_pct_per_session / ours_same.cpu_pct_per_session
        if naive_run and ours_same and ours_same.cpu_pct_per_session > 0
        else None
    )
    return {
        "sessions": top.sessions if top else 0,
        "ours_cpu_pct_per_session": round(top.cpu_pct_per_session, 2) if top else None,
        "naive_cpu_pct_per_session": (
            round(naive_run.cpu_pct_per_session, 2) if naive_run else None
        ),
        "naive_over_ours": round(ratio, 1) if ratio is not None else None,
        "delivered_fps_min": round(top.delivered_fps_min, 2) if top else 0.0,
        "naive_over_ours_at": {
            "naive_sessions": naive_n,
            "ours_sessions": ours_same.sessions if ours_same else None,
            "ours_cpu_pct_per_session": (
                round(ours_same.cpu_pct_per_session, 2) if ours_same else None
            ),
            "naive_sustained": naive_run.sustained if naive_run else None,
        },
        "ours_largest_sustained_sessions": max(
            (n for n, r in ours.items() if r.sustained), default=0
        ),
        "ours_rss_mb_per_session": round(top.rss_mb_per_session, 2) if top else None,
        "ours_server_cpu_pct": round(top.server_cpu_pct, 1) if top else None,
        "loadgen_cpu_pct": round(top.loadgen_cpu_pct, 1) if top else None,
        "goal": {
            "naive_over_ours_ge_10": ratio is not None and ratio >= 10,
            "sessions_20_at_25_fps": bool(
                20 in ours and ours[20].delivered_fps_min >= SUSTAINED_FPS
            ),
        },
        "source": media,
        "cpu_cores": os.cpu_count(),
        "window_s": config.window_s,
        "loadgen_workers": config.workers,
        "elapsed_s": round(elapsed, 1),
        "runs": [r.summary() for r in runs],
    }


COLUMNS = (
    ("server", "server", "{}"),
    ("sessions", "N", "{}"),
    ("server_cpu_pct", "cpu %", "{:.1f}"),
    ("cpu_pct_per_session", "cpu %/sess", "{:.2f}"),
    ("server_rss_mb", "rss MB", "{:.0f}"),
    ("rss_mb_per_session", "rss MB/sess", "{:.1f}"),
    ("loadgen_cpu_pct", "loadgen %", "{:.1f}"),
    ("machine_busy_pct", "machine %", "{:.0f}"),
    ("others_cpu_pct", "others %", "{:.0f}"),
    ("delivered_fps_min", "fps min", "{:.1f}"),
    ("delivered_fps_median", "fps med", "{:.1f}"),
    ("audio_fps_min", "audio/s min", "{:.1f}"),
    ("video_kbps_mean", "kbps", "{}"),
    ("setup_s", "setup s", "{:.1f}"),
    ("sustained", "sustained", "{}"),
)


def _row(summary: dict[str, Any]) -> str:
    return "  ".join(f"{label}={fmt.format(summary[key])}" for key, label, fmt in COLUMNS)


def print_table(runs: list[RunResult], out: Any) -> None:
    rows = [[label for _, label, _ in COLUMNS]]
    for run in runs:
        summary = run.summary()
        rows.append([fmt.format(summary[key]) for key, _, fmt in COLUMNS])
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    print("", file=out)
    for index, row in enumerate(rows):
        print("  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)), file=out)
        if index == 0:
            print("  ".join("-" * w for w in widths), file=out)
    for run in runs:
        for note in run.notes():
            print(f"{run.server} N={run.sessions}: {note}", file=out)
    print(f"(source: {FPS} fps; sustained: every subscriber >= {SUSTAINED_FPS} fps)", file=out)


def run_benchmark(
    config: Config, out: Any = sys.stdout, keep: Path | None = None
) -> dict[str, Any]:
    """Run it all; the work directory (media, database, logs, specs) goes unless `keep`."""
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        return asyncio.run(run_all(config, keep.resolve(), out))
    with tempfile.TemporaryDirectory(prefix="notarylink-bench-") as tmp:
        return asyncio.run(run_all(config, Path(tmp), out))


def _counts(raw: str) -> list[int]:
    return [int(x) for x in raw.split(",") if x.strip()] if raw.strip() else []


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.forwarding")
    defaults = Config()
    parser.add_argument("--sessions", type=_counts, default=defaults.sessions)
    parser.add_argument("--naive-sessions", type=_counts, default=defaults.naive_sessions)
    parser.add_argument("--window", type=float, default=defaults.window_s)
    parser.add_argument("--warmup", type=float, default=defaults.warmup_s)
    parser.add_argument("--workers", type=int, default=defaults.workers)
    parser.add_argument("--media-seconds", type=int, default=defaults.media_seconds)
    parser.add_argument("--bit-rate", type=int, default=defaults.bit_rate)
    parser.add_argument("--retries", type=int, default=defaults.retries)
    parser.add_argument(
        "--player", action="store_true", help="publish through MediaPlayer(decode=False)"
    )
    parser.add_argument("--py-spy", default="", help="path to py-spy: profile every window")
    parser.add_argument("--profile-dir", type=Path, default=Path("bench-profiles"))
    parser.add_argument("--profile-loadgen", action="store_true", help="py-spy it as well")
    parser.add_argument("--keep", type=Path, help="keep logs and media in this directory")
    args = parser.parse_args(argv)
    config = Config(
        sessions=args.sessions,
        naive_sessions=args.naive_sessions,
        window_s=args.window,
        warmup_s=args.warmup,
        workers=args.workers,
        media_seconds=args.media_seconds,
        bit_rate=args.bit_rate,
        retries=args.retries,
        player=args.player,
        py_spy=args.py_spy,
        profile_dir=args.profile_dir.resolve() if args.py_spy else None,
        profile_loadgen=args.profile_loadgen,
    )
    run_benchmark(config, keep=args.keep)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
