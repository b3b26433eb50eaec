"""A VP8 stream's receive path with and without a frame's middle packets in C, under pytest
(`make bench`). It prints the figures and the JSON object; it asserts only that both ways ran
over the whole stream and that the C one handled packets."""

from __future__ import annotations

import json

import pytest

from media import continuation, core
from tests.bench.continuation_costs import run

pytestmark = pytest.mark.bench


@pytest.mark.skipif(
    not core.enabled() or continuation.FrameBuffer is None,
    reason="media._core or media._frames is not built or switched off",
)
def test_continuation_costs_benchmark() -> None:
    result = run(repeat=3)
    print(json.dumps(result))
    assert result["packets"] > 1000 and result["handled_in_c"] > 0
    assert all(v > 0 for v in result["receive_us_per_packet"].values())
