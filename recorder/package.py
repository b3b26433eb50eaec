"""Evidence packages: one zip per session that anyone can verify offline.

Reading is defensive, since a package may come from anyone: member names must be plain relative
paths, and sizes are capped before anything is read into memory.
"""

from __future__ import annotations

import hashlib
import struct
import zipfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

MAX_MEMBER_BYTES = 1024**3  # one segment or playback file
MAX_MEMBERS = 100_000
CHUNK = 1024 * 1024


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
        self._path = path
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

    def digest(self, name: str) -> tuple[int, str] | None:
        info = self._members.get(name)
        if info is None:
            return None
        digest = hashlib.sha256()
        if info.compress_type == zipfile.ZIP_STORED:
            # Stored members are hashed straight from the file: no copy through zipfile and no
            # CRC pass, so checking costs about what hashing costs.
            size = info.file_size
            with open(self._path, "rb") as fh:
                fh.seek(info.header_offset)
                header = fh.read(30)
                if header[:4] != b"PK\x03\x04":
                    raise PackageError(f"{name}: damaged local header")
                name_length, extra_length = struct.unpack("<HH", header[26:30])
                fh.seek(info.header_offset + 30 + name_length + extra_length)
                remaining = size
                while remaining:
                    chunk = fh.read(min(CHUNK, remaining))
                    if not chunk:
                        raise PackageError(f"{name}: the package is cut short")
                    digest.update(chunk)
                    remaining -= len(chunk)
            return size, digest.hexdigest()
        size = 0
        with self._zip.open(info) as fh:
            while chunk := fh.read(CHUNK):
                size += len(chunk)
                if size > MAX_MEMBER_BYTES:
                    raise PackageError(f"{name} expands beyond {MAX_MEMBER_BYTES} bytes")
                digest.update(chunk)
        return size, digest.hexdigest()

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
