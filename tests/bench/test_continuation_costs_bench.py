"""The receive path of a VP8 and an Opus stream with and without the packets in order in C,
under pytest (`make bench`). It prints the figures and the JSON object; it asserts only that
both ways ran over the whole streams and that the C one handled packets of each."""

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
    for kind in ("video", "audio"):
        each = result[kind]
        assert each["packets"] > 1000 and each["handled_in_c"] > 0
        assert all(v > 0 for v in each["receive_us_per_packet"].values())
