import pytest

from recorder.segmenter import check_id
from recorder.store_source import case_key, session_prefix

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "case_ref", ["(2026)京中信内经证字第00001号", "2026-GZ-0001", "../../etc", "案", "a" * 300]
)
def test_case_keys_are_safe_unique_and_readable(case_ref: str) -> None:
    key = case_key(case_ref)
    assert check_id(key, "case key") == key
    assert case_key(case_ref) == key  # stable
    assert session_prefix(case_ref, "r-1") == f"cases/{key}/sessions/r-1/"


def test_different_references_never_share_a_key() -> None:
    assert case_key("(2026)京证字第1号") != case_key("(2026)沪证字第1号")
    assert case_key("2026-GZ-0001").startswith("2026-GZ-0001-")
