"""Case materials: uploads checked by their content, stored once under object lock, commitments.

An upload is accepted only if its bytes are a well-formed JPEG, PNG or PDF from the first byte
to the last: nothing appended (polyglots, archives glued on), no archive or program posing as a
document, no image that would decode to more pixels than a scan has (decompression bombs), no
PDF whose compressed streams inflate beyond a budget (zip bombs) or that carries active
content. The client's file name is only shown to people: the object key is made from the case,
the requirement and the content's SHA-256, so a name can never steer where bytes are written.
"""

from __future__ import annotations

import hashlib
import io
import re
import struct
import threading
import unicodedata
import uuid
import warnings
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncConnection

from notary import journal
from notary.cases import Case, CaseError
from notary.matters import MaterialMode, Matter
from notary.tables import case_materials
from recorder.retention import RetentionClass
from recorder.store import ObjectStore, StoredObject

MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # a scanned page or a phone photo is well below this
MIN_UPLOAD_BYTES = 32
MAX_PIXELS = 40_000_000  # a 600 dpi A3 scan is ~70 MP; 40 MP covers phone photos and A4 scans
MAX_PDF_INFLATED_BYTES = 64 * 1024 * 1024  # all FlateDecode streams of one PDF together
MAX_FILE_NAME = 200
MAX_STATEMENT = 2000
MAX_MATERIALS_PER_CASE = 100

# PDF names that run code, open other programs or smuggle files; looked for after decoding
# #xx escapes in names and inside inflated streams.
_ACTIVE_PDF_NAMES = (
    b"/JavaScript",
    b"/JS",
    b"/Launch",
    b"/EmbeddedFile",
    b"/EmbeddedFiles",
    b"/RichMedia",
)
_PDF_NAME = re.compile(rb"/[A-Za-z0-9#._+-]+")
_PDF_STREAM = re.compile(rb"stream\r?\n")
_NAME_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")

_EXTENSIONS = {"image/jpeg": ("jpg", "jpeg"), "image/png": ("png",), "application/pdf": ("pdf",)}


class MaterialRejected(ValueError):
    """An upload refused for what it is; `code` is stable, `message` says why to a person."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Sniffed:
    content_type: str
    extension: str


# --- names -----------------------------------------------------------------------------------


def check_file_name(raw: str | None) -> str:
    """The display name, or MaterialRejected for anything that looks like a path."""
    name = unicodedata.normalize("NFC", (raw or "").strip())
    if not name or len(name) > MAX_FILE_NAME:
        raise MaterialRejected("invalid_file_name", f"a file name of 1 to {MAX_FILE_NAME} chars")
    if any(ch in name for ch in "/\\:") or name in (".", "..") or name.startswith("."):
        raise MaterialRejected("invalid_file_name", "a file name may not contain a path")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in name):
        raise MaterialRejected("invalid_file_name", "a file name may not contain control chars")
    return name


# --- content ---------------------------------------------------------------------------------


def sniff(data: bytes, file_name: str) -> Sniffed:
    """What the bytes are (JPEG, PNG or PDF, checked through), matching the name's extension."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise MaterialRejected("too_large", f"a file may have at most {MAX_UPLOAD_BYTES} bytes")
    if len(data) < MIN_UPLOAD_BYTES:
        raise MaterialRejected("too_small", "the file is empty or truncated")
    if data.startswith(b"\xff\xd8\xff"):
        found = Sniffed("image/jpeg", "jpg")
        _check_jpeg(data)
    elif data.startswith(b"\x89PNG\r\n\x1a\n"):
        found = Sniffed("image/png", "png")
        _check_png(data)
    elif data.startswith(b"%PDF-"):
        found = Sniffed("application/pdf", "pdf")
        _check_pdf(data)
    elif data.startswith((b"PK\x03\x04", b"PK\x05\x06", b"Rar!", b"7z\xbc\xaf", b"\x1f\x8b")):
        raise MaterialRejected("archive_refused", "archives are not accepted; upload each page")
    else:
        raise MaterialRejected("unsupported_type", "only JPEG, PNG and PDF files are accepted")
    extension = file_name.rsplit(".", 1)[-1].lower() if "." in file_name else ""
    if extension not in _EXTENSIONS[found.content_type]:
        raise MaterialRejected(
            "type_mismatch",
            f"the file's content is {found.content_type} but its name says .{extension or '?'}",
        )
    if found.content_type != "application/pdf":
        _check_image_decodes(data)
    return found


def _check_jpeg(data: bytes) -> None:
    # Some cameras pad with zeros after the end marker; anything else after it is refused.
    if not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
        raise MaterialRejected("malformed_file", "data after the end of the JPEG image")


def _check_png(data: bytes) -> None:
    pos = 8
    first = True
    while True:
        if pos + 12 > len(data):
            raise MaterialRejected("malformed_file", "the PNG file is truncated")
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > len(data):
            raise MaterialRejected("malformed_file", "the PNG file is truncated")
        crc = struct.unpack(">I", data[end - 4 : end])[0]
        if zlib.crc32(data[pos + 4 : end - 4]) != crc:
            raise MaterialRejected("malformed_file", "a PNG chunk is corrupt")
        if first:
            if kind != b"IHDR" or length != 13:
                raise MaterialRejected("malformed_file", "the PNG file has no header")
            width, height = struct.unpack(">II", data[pos + 8 : pos + 16])
            _check_pixels(width, height)
            first = False
        pos = end
        if kind == b"IEND":
            break
    if pos != len(data):
        raise MaterialRejected("malformed_file", "data after the end of the PNG image")


def _check_pixels(width: int, height: int) -> None:
    if width <= 0 or height <= 0 or width * height > MAX_PIXELS:
        raise MaterialRejected(
            "image_too_large", f"{width}x{height} pixels: more than {MAX_PIXELS} is refused"
        )


# Decoding a large scan takes ~3 bytes a pixel; two at a time bounds that memory (~240 MB) however
# many uploads arrive together. Callers run sniff() in worker threads, which wait here.
_DECODE_SLOTS = threading.BoundedSemaphore(2)


def _check_image_decodes(data: bytes) -> None:
    with _DECODE_SLOTS:
        _decode(data)


def _decode(data: bytes) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                _check_pixels(*image.size)  # from the header, before any pixel is decoded
                image.load()
    except MaterialRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise MaterialRejected("image_too_large", "the image decodes to too many pixels") from None
    except Exception as exc:  # Pillow raises many kinds for broken files; all mean the same
        raise MaterialRejected("malformed_file", f"the image cannot be read: {exc}") from None


def _pdf_names(blob: bytes) -> set[bytes]:
    return {
        _NAME_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), raw)
        for raw in _PDF_NAME.findall(blob)
    }


def _check_pdf(data: bytes) -> None:
    if not re.match(rb"%PDF-[12]\.\d", data):
        raise MaterialRejected("malformed_file", "not a PDF header")
    end = data.rfind(b"%%EOF")
    if end < 0 or data[end + 5 :].strip(b"\r\n\t \x00"):
        raise MaterialRejected("malformed_file", "data after the end of the PDF")
    names = _pdf_names(data)
    budget = MAX_PDF_INFLATED_BYTES
    for match in _PDF_STREAM.finditer(data):
        start = match.end()
        stop = data.find(b"endstream", start)
        if stop < 0:
            break
        inflater = zlib.decompressobj()
        try:
            inflated = inflater.decompress(data[start:stop], budget + 1)
        except zlib.error:
            continue  # not a Flate stream (images, other filters)
        budget -= len(inflated)
        if budget < 0 or inflater.unconsumed_tail:
            raise MaterialRejected("compression_bomb", "the PDF inflates to too much data")
        names |= _pdf_names(inflated)
    if b"/Encrypt" in names:
        raise MaterialRejected(
            "encrypted_pdf", "the PDF is encrypted; upload it without a password"
        )
    active = sorted(n.decode("latin-1") for n in names if n in _ACTIVE_PDF_NAMES)
    if active:
        raise MaterialRejected("active_content", f"the PDF contains {', '.join(active)}")


# --- records ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Material:
    id: str
    case_id: str
    requirement: str
    kind: MaterialMode
    file_name: str | None
    content_type: str | None
    size: int | None
    sha256: str | None
    object_key: str | None
    version_id: str | None
    statement: str | None
    added_by: str
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "requirement": self.requirement,
            "kind": self.kind.value,
            "file_name": self.file_name,
            "content_type": self.content_type,
            "size": self.size,
            "sha256": self.sha256,
            "statement": self.statement,
            "created_at": self.created_at.isoformat(),
        }


def _material(row: sa.Row[Any]) -> Material:
    return Material(
        id=row.id,
        case_id=row.case_id,
        requirement=row.requirement,
        kind=MaterialMode(row.kind),
        file_name=row.file_name,
        content_type=row.content_type,
        size=row.size,
        sha256=row.sha256,
        object_key=row.object_key,
        version_id=row.version_id,
        statement=row.statement,
        added_by=row.added_by,
        created_at=row.created_at,
    )


async def list_materials(conn: AsyncConnection, case_id: str) -> list[Material]:
    query = (
        sa.select(case_materials)
        .where(case_materials.c.case_id == case_id)
        .order_by(case_materials.c.created_at, case_materials.c.id)
    )
    return [_material(row) for row in await conn.execute(query)]


async def get_material(conn: AsyncConnection, case_id: str, material_id: str) -> Material | None:
    row = (
        await conn.execute(
            sa.select(case_materials).where(
                case_materials.c.case_id == case_id, case_materials.c.id == material_id
            )
        )
    ).first()
    return _material(row) if row else None


def missing_requirements(matter: Matter, materials: list[Material]) -> list[str]:
    """Required materials not yet satisfied: an upload always counts; a commitment counts where
    the matter allows one, and consent to a shared-data check where the matter names one."""
    have: dict[str, set[MaterialMode]] = {}
    for material in materials:
        have.setdefault(material.requirement, set()).add(material.kind)
    missing = []
    for requirement in matter.notice["materials"]:
        if requirement["optional"]:
            continue
        kinds = have.get(requirement["code"], set())
        if MaterialMode.UPLOAD in kinds or MaterialMode(requirement["mode"]) in kinds:
            continue
        missing.append(requirement["code"])
    return missing


async def _check_can_add(conn: AsyncConnection, case: Case, matter: Matter, code: str) -> None:
    if not case.editable:
        raise CaseError("case_locked", "materials can be added only before submission")
    if matter.requirement(code) is None:
        raise CaseError("unknown_requirement", f"{code!r} is not a material of this matter")
    count = await conn.scalar(sa.select(sa.func.count()).where(case_materials.c.case_id == case.id))
    if (count or 0) >= MAX_MATERIALS_PER_CASE:
        raise CaseError("too_many_materials", f"a case has at most {MAX_MATERIALS_PER_CASE}")


async def check_upload_allowed(
    conn: AsyncConnection, case: Case, matter: Matter, requirement: str
) -> None:
    """Checked before the bytes are stored, and again when the upload is recorded."""
    await _check_can_add(conn, case, matter, requirement)


def object_key(case_id: str, requirement: str, sniffed: Sniffed, sha256: str) -> str:
    return f"cases/{case_id}/materials/{requirement}/{sha256}.{sniffed.extension}"


def store_upload(
    store: ObjectStore,
    bucket: str,
    case_id: str,
    requirement: str,
    data: bytes,
    sniffed: Sniffed,
    retention: RetentionClass,
) -> StoredObject:
    """Write the bytes once, under the matter's retention (blocking: run it in a thread).

    ObjectExists means the same bytes were already uploaded for this requirement.
    """
    digest = hashlib.sha256(data).hexdigest()
    key = object_key(case_id, requirement, sniffed, digest)
    return store.put_locked(bucket, key, data, retention, content_type=sniffed.content_type)


async def record_upload(
    conn: AsyncConnection,
    case: Case,
    matter: Matter,
    *,
    requirement: str,
    file_name: str,
    sniffed: Sniffed,
    stored: StoredObject,
    actor_id: str,
    actor_role: str,
) -> Material:
    await _check_can_add(conn, case, matter, requirement)
    return await _insert(
        conn,
        case,
        actor_id=actor_id,
        actor_role=actor_role,
        requirement=requirement,
        kind=MaterialMode.UPLOAD,
        file_name=file_name,
        content_type=sniffed.content_type,
        size=stored.size,
        sha256=stored.sha256,
        object_key=stored.key,
        version_id=stored.version_id,
    )


async def sign_commitment(
    conn: AsyncConnection,
    case: Case,
    matter: Matter,
    *,
    requirement: str,
    statement: str,
    actor_id: str,
    actor_role: str,
) -> Material:
    """The applicant commits (告知承诺) that the material's facts are true, instead of uploading."""
    await _check_can_add(conn, case, matter, requirement)
    spec = matter.requirement(requirement)
    assert spec is not None
    if spec["mode"] != MaterialMode.COMMITMENT:
        raise CaseError(
            "commitment_not_allowed", "this material cannot be replaced by a commitment"
        )
    statement = statement.strip()
    if not statement or len(statement) > MAX_STATEMENT:
        raise CaseError("invalid_statement", f"a statement of 1 to {MAX_STATEMENT} characters")
    return await _insert(
        conn,
        case,
        actor_id=actor_id,
        actor_role=actor_role,
        requirement=requirement,
        kind=MaterialMode.COMMITMENT,
        statement=statement,
        sha256=hashlib.sha256(statement.encode("utf-8")).hexdigest(),
    )


async def request_shared_data(
    conn: AsyncConnection,
    case: Case,
    matter: Matter,
    *,
    requirement: str,
    actor_id: str,
    actor_role: str,
) -> Material:
    """The applicant consents that the notary checks this material through shared data."""
    await _check_can_add(conn, case, matter, requirement)
    spec = matter.requirement(requirement)
    assert spec is not None
    if spec["mode"] != MaterialMode.SHARED_DATA:
        raise CaseError("shared_data_not_available", "this material must be provided")
    return await _insert(
        conn,
        case,
        actor_id=actor_id,
        actor_role=actor_role,
        requirement=requirement,
        kind=MaterialMode.SHARED_DATA,
    )


async def _insert(
    conn: AsyncConnection,
    case: Case,
    *,
    actor_id: str,
    actor_role: str,
    requirement: str,
    kind: MaterialMode,
    **values: Any,
) -> Material:
    material_id = str(uuid.uuid4())
    await conn.execute(
        case_materials.insert().values(
            id=material_id,
            case_id=case.id,
            requirement=requirement,
            kind=kind.value,
            added_by=actor_id,
            created_at=datetime.now(UTC),
            **values,
        )
    )
    material = await get_material(conn, case.id, material_id)
    assert material is not None
    await journal.append(
        conn,
        action="case.material_added",
        actor_id=actor_id,
        actor_role=actor_role,
        case_id=case.id,
        after={
            "material_id": material_id,
            "requirement": requirement,
            "kind": kind.value,
            "sha256": material.sha256,
            "size": material.size,
        },
    )
    return material
