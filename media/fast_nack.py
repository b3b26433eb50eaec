"""aiortc's NACK generator with the same missing set, without a walk over it per packet.

Every video packet the server receives goes through `NackGenerator.add`, which then calls
`truncate()`: a Python loop over every sequence number still missing, comparing each with
`uint16_gt`, so that none older than `RTP_HISTORY_SIZE` packets stays. A lost packet that is
never repaired stays in the set for up to 128 packets, and a stream whose numbering jumped
ahead keeps its gap until it catches up: py-spy found sets of 50 and more on 14 % of the video
packets at 10 sessions, and the generator at 7 % of the event loop's busy time.

Here the set is the same set after every packet (aiortc's code reads `missing`), but:
- a packet that does not move `max_seq` forward cannot make anything older than the window:
  no walk (aiortc's truncate removes nothing there either, the set only shrank since);
- numbers enter the set in increasing order, so they are also queued in that order, and the
  walk pops from the front only those now older than the window; numbers already repaired
  leave the queue the same way;
- of a gap, only the numbers that truncate would keep are added (aiortc adds them all, then
  removes all but the last `RTP_HISTORY_SIZE`).

The queue's order is the order truncate removes in: every number in it is at most
`RTP_HISTORY_SIZE` behind the previous newest, and a forward step is less than half the number
space, so "older than the window" holds for a prefix of the queue, whatever the jump (with
d <= 128 behind the old newest and a step J < 0x8000, the distance to the window's start is
d + J - 128 < 0x8000). tests/media/test_fast_nack.py runs both side by side on lossy,
reordered, wrapping, jumping and random streams. `install()` makes aiortc's receivers build
this one (they create theirs as `NackGenerator()` from their module's namespace).
"""

from __future__ import annotations

from collections import deque

from aiortc import rtcrtpreceiver
from aiortc.rtcrtpreceiver import RTP_HISTORY_SIZE, NackGenerator
from aiortc.rtp import RtpPacket
from aiortc.utils import uint16_add, uint16_gt

ORIGINAL = NackGenerator
_HALF = 0x8000


class FastNackGenerator(NackGenerator):
    """`NackGenerator` whose `missing` is kept as aiortc's, at O(1) per packet (amortized)."""

    def __init__(self) -> None:
        super().__init__()
        self._order: deque[int] = deque()  # numbers as they entered `missing`, oldest first

    def add(self, packet: RtpPacket) -> bool:
        sequence = packet.sequence_number
        max_seq = self.max_seq
        if max_seq is None:
            self.max_seq = sequence
            return False
        ahead = (sequence - max_seq) & 0xFFFF
        if not 0 < ahead < _HALF:  # not uint16_gt(sequence, max_seq): a late or repeated one
            self.missing.discard(sequence)
            return False
        self.max_seq = sequence
        missed = ahead > 1
        if missed:
            self._add_gap(max_seq, ahead)
        if self.missing:
            self._drop_old(sequence)
        elif self._order:
            self._order.clear()
        return missed

    def _add_gap(self, max_seq: int, ahead: int) -> None:
        # max_seq+1 .. sequence-1; of those only the last RTP_HISTORY_SIZE survive truncate.
        first = max(1, ahead - RTP_HISTORY_SIZE)
        numbers = [(max_seq + step) & 0xFFFF for step in range(first, ahead)]
        self.missing.update(numbers)
        self._order.extend(numbers)

    def _drop_old(self, max_seq: int) -> None:
        oldest = uint16_add(max_seq, -RTP_HISTORY_SIZE)
        order, missing = self._order, self.missing
        while order:
            number = order[0]
            if number in missing:
                if not uint16_gt(oldest, number):
                    return
                missing.discard(number)
            order.popleft()


def install() -> None:
    rtcrtpreceiver.NackGenerator = FastNackGenerator  # type: ignore[misc]


def uninstall() -> None:
    rtcrtpreceiver.NackGenerator = ORIGINAL  # type: ignore[misc]


__all__ = ["ORIGINAL", "FastNackGenerator", "install", "uninstall"]
