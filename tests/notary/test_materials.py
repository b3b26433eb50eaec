"""notary/materials.py: uploads checked by content, names never paths, what is still missing."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from notary import materials
from notary.cases import CaseError
from notary.materials import Material, MaterialRejected, check_file_name, sniff
from notary.matters import MaterialMode, load_catalog
from recorder.store import StoredObject
from tests.notary import material_files as files
from tests.notary.case_world import draft, make_case_world, matter


@pytest.mark.unit
@pytest.mark.parametrize(
    "data, name, content_type",
    [
        (files.png(), "scan.PNG", "image/png"),
        (files.jpeg(), "photo.jpeg", "image/jpeg"),
        (files.jpeg() + b"\x00\x00", "photo.jpg", "image/jpeg"),  # zero padding some cameras add
        (files.pdf(), "letter.pdf", "application/pdf"),
        (files.pdf_with_stream(b"BT /F1 12 Tf (hello) Tj ET"), "letter.pdf", "application/pdf"),
    ],
)
def test_good_files_pass(data: bytes, name: str, content_type: str) -> None:
    assert sniff(data, name).content_type == content_type


@pytest.mark.unit
@pytest.mark.parametrize(
    "data, name, code",
    [
        (b"MZ\x90\x00" + b"\x00" * 100, "setup.pdf", "unsupported_type"),
        (b"\x7fELF" + b"\x00" * 100, "scan.png", "unsupported_type"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'><script/></svg>", "x.png", "unsupported_type"),
        (b"GIF89a" + b"\x00" * 100, "x.jpg", "unsupported_type"),
        (files.png(), "scan.jpg", "type_mismatch"),
        (files.pdf(), "scan.png", "type_mismatch"),
        (files.pdf(), "scan", "type_mismatch"),
        (files.zip_bomb(), "scan.pdf", "archive_refused"),
        (b"\x1f\x8b\x08" + b"\x00" * 100, "scan.pdf", "archive_refused"),
        (files.png_bomb(), "scan.png", "image_too_large"),
        (files.png_bomb(side=7000), "scan.png", "image_too_large"),  # 49 MP
        (files.pdf_flate_bomb(), "scan.pdf", "compression_bomb"),
        (files.pdf_with_javascript(), "scan.pdf", "active_content"),
        (
            files.pdf_with_stream(b"q Q", extra=b"/Names << /EmbeddedFiles 5 0 R >> "),
            "a.pdf",
            "active_content",
        ),
        (files.pdf() + b"PK\x05\x06" + b"\x00" * 18, "scan.pdf", "malformed_file"),
        (files.jpeg() + files.zip_bomb(100), "scan.jpg", "malformed_file"),
        (files.png() + b"<?php ?>", "scan.png", "malformed_file"),
        (files.png()[:-13], "scan.png", "malformed_file"),
        (files.png()[:40] + b"\x00" + files.png()[41:], "scan.png", "malformed_file"),  # bad CRC
        (b"%PDF-1.7\n" + b"x" * 100, "scan.pdf", "malformed_file"),  # no end
        (b"\xff\xd8\xff" + b"\x00" * 100 + b"\xff\xd9", "scan.jpg", "malformed_file"),
        (b"", "scan.png", "too_small"),
        (b"%PDF-1.7\n" + b"0" * materials.MAX_UPLOAD_BYTES, "scan.pdf", "too_large"),
    ],
)
def test_bad_files_are_refused(data: bytes, name: str, code: str) -> None:
    with pytest.raises(MaterialRejected) as refused:
        sniff(data, name)
    assert refused.value.code == code


@pytest.mark.unit
@pytest.mark.parametrize(
    "name",
    [
        "../../etc/passwd.png",
        "..\\boot.ini.png",
        "/etc/x.png",
        "C:x.png",
        ".htaccess",
        "..",
        "",
        "a\x00.png",
        "a\u202egnp.exe",
        "x" * 201 + ".png",
        "a\nb.png",
    ],
)
def test_path_like_names_are_refused(name: str) -> None:
    with pytest.raises(MaterialRejected) as refused:
        check_file_name(name)
    assert refused.value.code == "invalid_file_name"


@pytest.mark.unit
def test_plain_names_are_kept_for_people() -> None:
    assert check_file_name("  身份证 正面.jpg ") == "身份证 正面.jpg"
    assert check_file_name("scan (2).v1.pdf") == "scan (2).v1.pdf"


@pytest.mark.unit
def test_the_object_key_comes_from_the_content_never_the_name() -> None:
    data = files.png()
    sniffed = sniff(data, "../../evil.png")
    digest = hashlib.sha256(data).hexdigest()
    key = materials.object_key("case-1", "applicant_id", sniffed, digest)
    assert key == f"cases/case-1/materials/applicant_id/{digest}.png"


def _material(requirement: str, kind: MaterialMode) -> Material:
    return Material(
        id="m",
        case_id="c",
        requirement=requirement,
        kind=kind,
        file_name=None,
        content_type=None,
        size=None,
        sha256=None,
        object_key=None,
        version_id=None,
        statement=None,
        added_by="a",
        created_at=datetime.now(UTC),
    )


@pytest.mark.unit
def test_what_counts_as_provided() -> None:
    kinship = next(m for m in load_catalog(["short", "long", "permanent"]) if m.code == "kinship")
    assert materials.missing_requirements(kinship, []) == [
        "applicant_id",
        "kinship_evidence",
        "household_register",
    ]
    have = [
        _material("applicant_id", MaterialMode.COMMITMENT),  # an ID cannot be promised
        _material("kinship_evidence", MaterialMode.COMMITMENT),
        _material("household_register", MaterialMode.UPLOAD),  # uploading always counts
    ]
    assert materials.missing_requirements(kinship, have) == ["applicant_id"]


@pytest.mark.integration
async def test_records_follow_the_matter_and_the_case_state(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        world = await make_case_world(conn)
        case = await draft(conn, world, "kinship")
        kinship = await matter(conn, "kinship")
        actor = {"actor_id": world.applicant, "actor_role": "applicant"}
        with pytest.raises(CaseError, match="cannot be replaced"):
            await materials.sign_commitment(
                conn, case, kinship, requirement="applicant_id", statement="x", **actor
            )
        with pytest.raises(CaseError, match="must be provided"):
            await materials.request_shared_data(
                conn, case, kinship, requirement="applicant_id", **actor
            )
        with pytest.raises(CaseError, match="not a material"):
            await materials.request_shared_data(conn, case, kinship, requirement="nope", **actor)
        signed = await materials.sign_commitment(
            conn, case, kinship, requirement="kinship_evidence", statement=" 属实 ", **actor
        )
        assert signed.statement == "属实"
        assert signed.sha256 == hashlib.sha256("属实".encode()).hexdigest()
        stored = StoredObject(
            "b", "cases/x/materials/applicant_id/k.png", "v1", "ab" * 32, 99, None, True
        )
        sniffed = sniff(files.png(), "a.png")
        upload = await materials.record_upload(
            conn,
            case,
            kinship,
            requirement="applicant_id",
            file_name="a.png",
            sniffed=sniffed,
            stored=stored,
            **actor,
        )
        assert (upload.object_key, upload.version_id, upload.size) == (stored.key, "v1", 99)
        listed = await materials.list_materials(conn, case.id)
    assert [m.id for m in listed] == [signed.id, upload.id]
