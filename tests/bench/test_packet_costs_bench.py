"""Per-packet stage costs under pytest (`make bench`): aiortc as shipped against media/'s
replacements, side by side. It prints the table and the JSON object; it asserts only that each
stage ran over the whole stream and that the replacements are the ones being compared."""

from __future__ import annotations

import json

import pytest
from aiortc import clock

from media import fast_clock
from tests.bench.packet_costs import aiortc_as_shipped, run

pytestmark = pytest.mark.bench


def test_packet_costs_benchmark() -> None:
    with aiortc_as_shipped():
        assert clock.current_ms is fast_clock.ORIGINAL_CURRENT_MS
    assert clock.current_ms is fast_clock.current_ms  # put back after the comparison
    result = run(repeat=3)
    print(json.dumps(result))
    assert result["packets"] > 1000
    stages = result["stages_us_per_packet"].values()
    assert all(row["aiortc"] > 0 and row["ours"] > 0 for row in stages)
