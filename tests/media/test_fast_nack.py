"""The NACK generator: the same missing set and answers as aiortc's, packet after packet."""

from __future__ import annotations

import random

import pytest
from aiortc import rtcrtpreceiver
from aiortc.rtp import RtpPacket

from media import fast_nack
from media.fast_nack import FastNackGenerator

pytestmark = pytest.mark.unit


def _run_side_by_side(numbers: list[int]) -> FastNackGenerator:
    theirs, ours = fast_nack.ORIGINAL(), FastNackGenerator()
    for index, number in enumerate(numbers):
        packet = RtpPacket(sequence_number=number)
        assert ours.add(packet) == theirs.add(packet), f"answer at {index} ({number})"
        assert ours.missing == theirs.missing, f"missing set at {index} ({number})"
        assert ours.max_seq == theirs.max_seq
    return ours


def _stream(start: int, count: int) -> list[int]:
    return [(start + step) & 0xFFFF for step in range(count)]


def test_a_clean_stream_misses_nothing_and_queues_nothing() -> None:
    ours = _run_side_by_side(_stream(65000, 2000))  # wraps
    assert not ours.missing and not ours._order


def test_losses_repairs_and_losses_never_repaired() -> None:
    chance = random.Random(1)
    numbers = []
    for number in _stream(64000, 5000):
        if chance.random() < 0.05:
            continue  # lost
        numbers.append(number)
        if chance.random() < 0.03 and len(numbers) > 20:
            numbers.append(numbers[-chance.randrange(2, 20)])  # a repair (or a duplicate)
    ours = _run_side_by_side(numbers)
    assert ours.missing  # losses never repaired are still tracked, within the window
    assert len(ours._order) <= 2 * 128


def test_reordering_and_bursts() -> None:
    chance = random.Random(2)
    numbers = _stream(100, 3000)
    for _ in range(300):
        at = chance.randrange(len(numbers) - 10)
        numbers[at : at + 10] = chance.sample(numbers[at : at + 10], 10)
    for _ in range(8):
        at = chance.randrange(len(numbers) - 300)
        del numbers[at : at + chance.randrange(1, 250)]  # a burst longer than the window too
    _run_side_by_side(numbers)


@pytest.mark.parametrize("jump", [129, 1000, 32000, 32639, 32640, 32700, 32767, 32768, 40000])
def test_numbering_that_jumps(jump: int) -> None:
    numbers = [n for n in _stream(5, 400) if n % 7]  # losses on both sides of the jump
    numbers += [n for n in _stream(404 + jump, 400) if n % 5]
    numbers += [n for n in _stream(804 + 2 * jump, 200) if n % 3]
    _run_side_by_side(numbers)


def test_random_numbers() -> None:
    chance = random.Random(3)
    _run_side_by_side([chance.randrange(65536) for _ in range(500)])
    walk, numbers = 0, []
    for _ in range(3000):
        walk = (walk + chance.choice([1, 1, 1, 2, 3, -1, -5, 200, 40000])) & 0xFFFF
        numbers.append(walk)
    _run_side_by_side(numbers)


def test_install_makes_aiortc_s_receivers_build_it() -> None:
    assert rtcrtpreceiver.NackGenerator is FastNackGenerator  # media/__init__.py installed it
    fast_nack.uninstall()
    try:
        assert rtcrtpreceiver.NackGenerator is fast_nack.ORIGINAL
    finally:
        fast_nack.install()
