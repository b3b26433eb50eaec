"""Upload CPU per segment under pytest (`make bench`): the spool's two PUTs against the six
requests it made before, side by side. It prints the JSON object; it asserts the request counts
(the point of the change) and that every segment of both ways was uploaded and timed."""

from __future__ import annotations

import json

import pytest

from tests.bench.upload_requests import run

pytestmark = pytest.mark.bench


def test_upload_requests_benchmark() -> None:
    result = run(segments=200, size=400_000)
    print(json.dumps(result))
    assert result["segments"] == 200
    assert result["requests_per_segment"] == {"now": 2.0, "before": 6.0}
    assert all(ms > 0 for ms in result["cpu_ms_per_segment"].values())
