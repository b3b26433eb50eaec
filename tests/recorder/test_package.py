import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from recorder import package
from recorder.package import PackageError, ZipSource, safe_name, write_package
from recorder.verify import verify
from tests.recorder.evidence import build_session

pytestmark = pytest.mark.unit


def test_a_written_package_verifies_offline(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    source, _ = build_session(key)
    path = tmp_path / "evidence.zip"
    write_package(path, sorted(source.files.items()))
    assert not (tmp_path / "evidence.zip.part").exists()
    zipped = ZipSource(path)
    assert sorted(zipped.names()) == sorted(source.files)
    assert verify(zipped, trusted_key=key.public_key()).ok


@pytest.mark.parametrize("name", ["../evil", "/etc/passwd", "a/../../b", "a\\..\\b", ""])
def test_unsafe_names(name: str) -> None:
    assert not safe_name(name)


def test_a_package_with_traversal_names_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("manifest.json", "{}")
        zf.writestr("../../outside.txt", "x")
    with pytest.raises(PackageError, match="unsafe file name"):
        ZipSource(path)
    with pytest.raises(PackageError, match="unsafe"):
        write_package(tmp_path / "out.zip", [("../x", b"")])


def test_a_zip_bomb_is_not_read_past_the_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", b"\0" * 5_000_000)  # 5 MB of zeros compresses to ~5 KB
    assert path.stat().st_size < 50_000
    monkeypatch.setattr(package, "MAX_MEMBER_BYTES", 1_000_000)
    with pytest.raises(PackageError, match="larger than"):
        ZipSource(path)


def test_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "x.zip"
    path.write_bytes(b"not a zip")
    with pytest.raises(PackageError, match="not a readable zip"):
        ZipSource(path)


def test_a_byte_flipped_inside_the_zip_file_is_found(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    source, _ = build_session(key)
    target = source.files["p-app/000001.webm"]
    path = tmp_path / "evidence.zip"
    write_package(path, sorted(source.files.items()))
    raw = bytearray(path.read_bytes())
    at = raw.find(target[:64]) + 1000  # inside that segment's stored bytes
    raw[at] ^= 0x01
    path.write_bytes(bytes(raw))
    failed = [c for c in verify(ZipSource(path), trusted_key=key.public_key()).checks if not c.ok]
    assert [(c.name, c.message) for c in failed] == [
        ("segments", "p-app/000001.webm: content differs from its sealed hash (altered)")
    ]
