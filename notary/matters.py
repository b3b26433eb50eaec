"""The matter catalog: what each notarization needs, told completely and at once (一次性告知).

The catalog is a reviewed data file (`notary/data/matters.json`, compact: shared material names,
category defaults) that `load_catalog` validates and expands into one complete notice per
matter. `seed` writes matters the database does not have yet; from then on the database is the
source, and an admin's edits (`update`) are journaled and never overwritten by a restart.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from notary import journal
from notary.tables import matters

DATA_FILE = Path(__file__).resolve().with_name("data") / "matters.json"
LANGUAGES = ("zh-CN", "en")
_CODE = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
MAX_TEXT = 500  # one material name, condition or step
MAX_ITEMS = 40  # materials or conditions of one matter
MAX_FEE_CENTS = 100_000_000  # a million yuan: anything above is a typing error


class CatalogError(ValueError):
    """The catalog file or an admin's edit does not describe a valid matter."""


class MaterialMode(StrEnum):
    UPLOAD = "upload"  # the applicant uploads it
    SHARED_DATA = "shared_data"  # the notary checks it through shared government data
    COMMITMENT = "commitment"  # upload it, or sign a commitment (告知承诺) instead


@dataclass(frozen=True)
class Matter:
    code: str
    category: str
    name_zh: str
    name_en: str
    base_fee_cents: int
    expected_days: int
    remote_allowed: bool
    secret: bool
    retention_class: str
    notice: dict[str, Any]  # category, materials, conditions, steps: each {"zh", "en"}
    active: bool = True
    revision: int = 1

    def requirement(self, code: str) -> dict[str, Any] | None:
        return next((m for m in self.notice["materials"] if m["code"] == code), None)

    def view(self, lang: str) -> dict[str, Any]:
        """The complete notice in one language, as the public page and API show it."""
        key = "en" if lang == "en" else "zh"

        def text(item: Mapping[str, str]) -> str:
            return item[key]

        return {
            "code": self.code,
            "name": self.name_en if key == "en" else self.name_zh,
            "category": {"code": self.category, "name": text(self.notice["category"])},
            "fee": {"base_cents": self.base_fee_cents, "currency": "CNY"},
            "expected_days": self.expected_days,
            "remote_allowed": self.remote_allowed,
            "secret": self.secret,
            "retention_class": self.retention_class,
            "materials": [
                {
                    "code": m["code"],
                    "name": text(m),
                    "mode": m["mode"],
                    "optional": m["optional"],
                }
                for m in self.notice["materials"]
            ],
            "conditions": [text(c) for c in self.notice["conditions"]],
            "steps": [text(s) for s in self.notice["steps"]],
            "revision": self.revision,
        }


def _text(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or set(value) != {"zh", "en"}:
        raise CatalogError(f"{where}: expected {{'zh': ..., 'en': ...}}")
    for lang in ("zh", "en"):
        item = value[lang]
        if not isinstance(item, str) or not item.strip() or len(item) > MAX_TEXT:
            raise CatalogError(f"{where}.{lang}: 1 to {MAX_TEXT} characters of text")
    return {"zh": value["zh"].strip(), "en": value["en"].strip()}


def _texts(values: Any, where: str, *, allow_empty: bool = False) -> list[dict[str, str]]:
    if not isinstance(values, list) or len(values) > MAX_ITEMS or (not values and not allow_empty):
        raise CatalogError(f"{where}: a list of 1 to {MAX_ITEMS} texts")
    return [_text(v, f"{where}[{i}]") for i, v in enumerate(values)]


def validate_requirements(values: Any, where: str = "materials") -> list[dict[str, Any]]:
    """Expanded requirements: each {code, mode, optional, zh, en}; codes unique."""
    if not isinstance(values, list) or not 1 <= len(values) <= MAX_ITEMS:
        raise CatalogError(f"{where}: a list of 1 to {MAX_ITEMS} materials")
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    for i, item in enumerate(values):
        here = f"{where}[{i}]"
        if not isinstance(item, dict):
            raise CatalogError(f"{here}: an object")
        code = item.get("code")
        if not isinstance(code, str) or not _CODE.match(code) or code in seen:
            raise CatalogError(f"{here}.code: a unique lower-case code")
        seen.add(code)
        try:
            mode = MaterialMode(str(item.get("mode")))
        except ValueError:
            raise CatalogError(f"{here}.mode: one of {[m.value for m in MaterialMode]}") from None
        if not isinstance(item.get("optional"), bool):
            raise CatalogError(f"{here}.optional: true or false")
        names = _text({"zh": item.get("zh"), "en": item.get("en")}, here)
        out.append({"code": code, "mode": mode.value, "optional": item["optional"], **names})
    if all(m["optional"] for m in out):
        raise CatalogError(f"{where}: at least one material must be required")
    return out


def _int(value: Any, where: str, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= high:
        raise CatalogError(f"{where}: a whole number from 0 to {high}")
    return value


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise CatalogError(f"{where}: true or false")
    return value


def parse_catalog(raw: Mapping[str, Any], retention_classes: Iterable[str]) -> list[Matter]:
    """Validate the compact catalog and expand each matter into its complete notice."""
    known_classes = set(retention_classes)
    materials = raw.get("materials")
    categories = raw.get("categories")
    if not isinstance(materials, dict) or not isinstance(categories, dict):
        raise CatalogError("the catalog needs 'materials' and 'categories' objects")
    names = {code: _text(v, f"materials.{code}") for code, v in materials.items()}
    steps = _texts(raw.get("steps"), "steps")
    found: list[Matter] = []
    seen: set[str] = set()
    for index, entry in enumerate(raw.get("matters") or []):
        where = f"matters[{index}]"
        code = entry.get("code")
        if not isinstance(code, str) or not _CODE.match(code) or code in seen:
            raise CatalogError(f"{where}.code: a unique lower-case code, got {code!r}")
        seen.add(code)
        category = categories.get(entry.get("category"))
        if not isinstance(category, dict):
            raise CatalogError(f"{code}: unknown category {entry.get('category')!r}")

        def pick(
            name: str, *, _entry: dict[str, Any] = entry, _cat: dict[str, Any] = category
        ) -> Any:
            return _entry[name] if name in _entry else _cat.get(name)

        requirements = []
        for item in entry.get("materials") or []:
            if item.get("material") not in names:
                raise CatalogError(f"{code}: unknown material {item.get('material')!r}")
            requirements.append(
                {
                    "code": item["material"],
                    "mode": item.get("mode"),
                    "optional": item.get("optional", False),
                    **names[item["material"]],
                }
            )
        retention = pick("retention_class")
        if retention not in known_classes:
            raise CatalogError(f"{code}: retention class {retention!r} is not configured")
        name = _text({"zh": entry.get("zh"), "en": entry.get("en")}, f"{code}.name")
        found.append(
            Matter(
                code=code,
                category=entry["category"],
                name_zh=name["zh"],
                name_en=name["en"],
                base_fee_cents=_int(pick("fee_cents"), f"{code}.fee_cents", MAX_FEE_CENTS),
                expected_days=_int(pick("expected_days"), f"{code}.expected_days", 365),
                remote_allowed=_bool(pick("remote_allowed"), f"{code}.remote_allowed"),
                secret=_bool(entry.get("secret", False), f"{code}.secret"),
                retention_class=retention,
                notice={
                    "category": _text(
                        {"zh": category.get("zh"), "en": category.get("en")}, f"{code}.category"
                    ),
                    "materials": validate_requirements(requirements, f"{code}.materials"),
                    # Category conditions first, then the matter's own.
                    "conditions": _texts(category.get("conditions", []), f"{code}.conditions")
                    + _texts(entry.get("conditions", []), f"{code}.conditions", allow_empty=True),
                    "steps": steps,
                },
            )
        )
    if not found:
        raise CatalogError("the catalog lists no matters")
    return found


def load_catalog(retention_classes: Iterable[str], path: Path = DATA_FILE) -> list[Matter]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CatalogError(f"cannot read the catalog {path}: {exc}") from exc
    return parse_catalog(raw, retention_classes)


def _row_values(matter: Matter) -> dict[str, Any]:
    return {
        "code": matter.code,
        "category": matter.category,
        "name_zh": matter.name_zh,
        "name_en": matter.name_en,
        "base_fee_cents": matter.base_fee_cents,
        "expected_days": matter.expected_days,
        "remote_allowed": matter.remote_allowed,
        "secret": matter.secret,
        "retention_class": matter.retention_class,
        "notice": matter.notice,
        "active": matter.active,
        "revision": matter.revision,
    }


def _matter(row: sa.Row[Any]) -> Matter:
    return Matter(
        code=row.code,
        category=row.category,
        name_zh=row.name_zh,
        name_en=row.name_en,
        base_fee_cents=row.base_fee_cents,
        expected_days=row.expected_days,
        remote_allowed=row.remote_allowed,
        secret=row.secret,
        retention_class=row.retention_class,
        notice=row.notice,
        active=row.active,
        revision=row.revision,
    )


async def seed(conn: AsyncConnection, catalog: Iterable[Matter]) -> list[str]:
    """Insert the catalog's matters that the database lacks; the codes inserted."""
    existing = set((await conn.scalars(sa.select(matters.c.code))).all())
    now = datetime.now(UTC)
    added = [m for m in catalog if m.code not in existing]
    if added:
        await conn.execute(matters.insert(), [{**_row_values(m), "updated_at": now} for m in added])
    return [m.code for m in added]


async def list_matters(conn: AsyncConnection, *, include_inactive: bool = False) -> list[Matter]:
    query = sa.select(matters).order_by(matters.c.category, matters.c.code)
    if not include_inactive:
        query = query.where(matters.c.active.is_(True))
    return [_matter(row) for row in await conn.execute(query)]


async def get_matter(conn: AsyncConnection, code: str) -> Matter | None:
    row = (await conn.execute(sa.select(matters).where(matters.c.code == code))).first()
    return _matter(row) if row else None


EDITABLE = (
    "base_fee_cents",
    "expected_days",
    "remote_allowed",
    "active",
    "materials",
    "conditions",
)


async def update(
    conn: AsyncConnection,
    code: str,
    changes: Mapping[str, Any],
    *,
    actor_id: str,
    actor_role: str,
    reason: str,
) -> Matter:
    """An admin's edit of one matter: validated, revision bumped, journaled with before/after."""
    current = await get_matter(conn, code)
    if current is None:
        raise LookupError(code)
    unknown = set(changes) - set(EDITABLE)
    if unknown or not changes:
        raise CatalogError(f"editable fields are {', '.join(EDITABLE)}")
    values: dict[str, Any] = {}
    notice = dict(current.notice)
    if "base_fee_cents" in changes:
        values["base_fee_cents"] = _int(changes["base_fee_cents"], "base_fee_cents", MAX_FEE_CENTS)
    if "expected_days" in changes:
        values["expected_days"] = _int(changes["expected_days"], "expected_days", 365)
    if "remote_allowed" in changes:
        values["remote_allowed"] = _bool(changes["remote_allowed"], "remote_allowed")
    if "active" in changes:
        values["active"] = _bool(changes["active"], "active")
    if "materials" in changes:
        notice["materials"] = validate_requirements(changes["materials"])
    if "conditions" in changes:
        notice["conditions"] = _texts(changes["conditions"], "conditions")
    values["notice"] = notice
    values["revision"] = current.revision + 1
    values["updated_at"] = datetime.now(UTC)
    values["updated_by"] = actor_id
    await conn.execute(matters.update().where(matters.c.code == code).values(**values))
    updated = await get_matter(conn, code)
    assert updated is not None
    before = {k: v for k, v in _row_values(current).items() if k != "code"}
    after = {k: v for k, v in _row_values(updated).items() if k != "code"}
    await journal.append(
        conn,
        action="matter.update",
        actor_id=actor_id,
        actor_role=actor_role,
        reason=reason,
        before={k: v for k, v in before.items() if after[k] != v},
        after={k: v for k, v in after.items() if before[k] != v},
    )
    return updated
