"""The import rules of ../shared/DESIGN.md, checked on the source (the AST, not a grep)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support import REPO

pytestmark = pytest.mark.unit

# package -> modules it must never import (and why)
FORBIDDEN: dict[str, tuple[set[str], str]] = {
    "notary": (
        {"signaling", "aiohttp", "aiortc", "media"},
        "the domain knows no web or media framework",
    ),
    "identity": ({"signaling", "aiortc", "aiohttp"}, "identity works on frames and images only"),
    "recorder": (
        {"signaling", "identity", "aiohttp"},
        "the recorder knows neither HTTP nor identity",
    ),
    "media": ({"notary", "signaling"}, "media knows no case work and no HTTP layer"),
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_never_imports_what_design_rules_out(package: str) -> None:
    banned, why = FORBIDDEN[package]
    offences = []
    for path in sorted((REPO / package).rglob("*.py")):
        hits = _imports(path) & banned
        if hits:
            offences.append(f"{path.relative_to(REPO)} imports {sorted(hits)}")
    assert not offences, f"{why}:\n" + "\n".join(offences)


def test_the_checker_sees_imports() -> None:
    # Guard against a checker that silently finds nothing.
    assert "aiohttp" in _imports(REPO / "signaling" / "app.py")
    assert "minio" in _imports(REPO / "recorder" / "store.py")
