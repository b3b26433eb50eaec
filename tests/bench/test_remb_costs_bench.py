"""The receive-side bandwidth estimator side by side under pytest (`make bench`): aiortc's,
aiortc's with media/fast_rate.py, and media/fast_remb.py, on the same traces. It prints the
table and the JSON object; it asserts only that every contender ran over every trace."""

from __future__ import annotations

import json

import pytest

from tests.bench.remb_costs import CONTENDERS, main

pytestmark = pytest.mark.bench


def test_remb_costs_benchmark(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--seconds", "20", "--repeat", "3"]) == 0
    printed = capsys.readouterr().out
    print(printed)
    summary = json.loads(printed.strip().splitlines()[-1])
    for row in summary["us_per_packet"].values():
        assert set(row) == set(CONTENDERS) and all(v > 0 for v in row.values())
