"""Issue 4's benchmark under pytest (`make bench`): seal latency and verification speed.

It prints its figures, the JSON object last; it asserts only that the evidence verified.
"""

from __future__ import annotations

import os

import pytest

from tests.bench.evidence import run

pytestmark = pytest.mark.bench


@pytest.mark.timeout(600)
async def test_evidence_benchmark() -> None:
    sessions = [int(n) for n in os.environ.get("NOTARYLINK_BENCH_RECORDINGS", "1,5,10").split(",")]
    result = await run(sessions)
    assert result["per_n"][0]["segments"] > 0
