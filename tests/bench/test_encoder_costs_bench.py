"""The face encoder side by side under pytest (`make bench`): dlib's own against the numpy
forward pass the server runs, and how each leaves a Python thread beside it. It prints the
figures and the JSON object; it asserts only that both encoders ran."""

from __future__ import annotations

import pytest

from tests.bench.encoder_costs import main

pytestmark = pytest.mark.bench


def test_encoder_costs_benchmark() -> None:
    result = main(["--rounds", "8", "--seconds", "1"])
    assert float(str(result["dlib_ms_per_chip"])) > 0
    assert float(str(result["numpy_ms_per_chip"])) > 0
    assert isinstance(result["gil_numpy"], dict) and isinstance(result["gil_dlib"], dict)
