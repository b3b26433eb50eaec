"""The requests a minio client sends, read from its own HTTP trace (`Minio.trace_on`)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from minio import Minio

_START = "---------START-HTTP---------\n"


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # /bucket/key, URL-encoded, with the query if any
    status: int
    headers: frozenset[str]  # request header names, lower case

    @property
    def key(self) -> str:
        """The object key (path without the bucket), as sent."""
        return self.path.split("/", 2)[2] if self.path.count("/") >= 2 else ""


class RequestTrace(io.StringIO):
    """Give it to `trace_on`; `requests()` parses what minio wrote, one entry per request."""

    def requests(self) -> list[Request]:
        found = []
        for chunk in self.getvalue().split(_START)[1:]:
            lines = chunk.splitlines()
            method, path, _ = lines[0].split(" ", 2)
            headers: set[str] = set()
            status = 0
            for line in lines[1:]:
                if line.startswith("HTTP/1.1 "):
                    status = int(line.split()[1])
                    break
                if ": " in line:
                    headers.add(line.split(": ", 1)[0].lower())
            found.append(Request(method, path, status, frozenset(headers)))
        return found

    def methods(self) -> list[str]:
        return [r.method for r in self.requests()]


@contextmanager
def traced(client: Minio) -> Iterator[RequestTrace]:
    trace = RequestTrace()
    client.trace_on(trace)
    try:
        yield trace
    finally:
        client.trace_off()
