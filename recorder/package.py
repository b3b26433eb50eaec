"""Evidence packages: one zip per session that anyone can verify offline.

Reading is defensive, since a package may come from anyone: member names must be plain relative
paths, and sizes are capped before anything is read into memory.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

MAX_MEMBER_BYTES = 1024**3  # one segment or playback file
MAX_MEMBERS = 100_000


class PackageError(ValueError):
    pass


def safe_name(name: str) -> bool:
    path = PurePosixPath(name)
    return (
        bool(name)
        and not path.is_absolute()
        and ".." not in path.parts
        and "\\" not in name
        and not name.startswith("/")
    )


class ZipSource:
    """An EvidenceSource over a package on disk."""

    def __init__(self, path: Path) -> None:
        try:
            self._zip = zipfile.ZipFile(path)
        except (OSError, zipfile.BadZipFile) as exc:
            raise PackageError(f"{path} is not a readable zip package: {exc}") from None
        infos = self._zip.infolist()
        if len(infos) > MAX_MEMBERS:
            raise PackageError(f"{path} has more than {MAX_MEMBERS} files")
        self._members: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            if info.is_dir():
                continue
            if not safe_name(info.filename):
                raise PackageError(f"unsafe file name in package: {info.filename!r}")
            if info.file_size > MAX_MEMBER_BYTES:
                raise PackageError(f"{info.filename} is larger than {MAX_MEMBER_BYTES} bytes")
            self._members[info.filename] = info

    def read(self, name: str) -> bytes | None:
        info = self._members.get(name)
        if info is None:
            return None
        with self._zip.open(info) as fh:
            # The declared size can lie (a zip bomb): never read past the cap.
            data = fh.read(MAX_MEMBER_BYTES + 1)
        if len(data) > MAX_MEMBER_BYTES:
            raise PackageError(f"{name} expands beyond {MAX_MEMBER_BYTES} bytes")
        return data

    def names(self) -> Iterable[str]:
        return list(self._members)

    def close(self) -> None:
        self._zip.close()


def write_package(path: Path, files: Iterable[tuple[str, bytes | Path]]) -> None:
    """Write the package atomically: a half-written zip never carries the final name."""
    part = path.with_suffix(path.suffix + ".part")
    with zipfile.ZipFile(part, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, content in files:
            if not safe_name(name):
                raise PackageError(f"unsafe file name {name!r}")
            if isinstance(content, Path):
                zf.write(content, name)
            else:
                zf.writestr(name, content)
    part.replace(path)
