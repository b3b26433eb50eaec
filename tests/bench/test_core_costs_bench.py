"""The forwarding step in C against Python, and the NACK generators, under pytest (`make bench`).
It prints the figures and the JSON object; it asserts only that both sides ran over the whole
stream."""

from __future__ import annotations

import json

import pytest

from media import core
from tests.bench.core_costs import run

pytestmark = pytest.mark.bench


@pytest.mark.skipif(not core.enabled(), reason="media._core is not built or switched off")
def test_core_costs_benchmark() -> None:
    result = run(repeat=3)
    print(json.dumps(result))
    assert result["packets"] > 1000
    assert all(v > 0 for v in result["forward_us_per_packet"].values())
    assert all(v > 0 for v in result["nack_us_per_packet"].values())
