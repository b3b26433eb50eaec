"""The match threshold, and where it came from.

The dlib model's authors suggest 0.6 (tuned on LFW, mostly Western adult faces, for a
balanced error rate). That is no calibration for a notary office: a false match (someone
else accepted as the applicant) is the costly error, and the model is reported to separate
East Asian faces less well. Run `notarylink identity calibrate DIR` on the office's own
photos and set the threshold it reports; `docs/identity.md` says how.

DEFAULT_THRESHOLD is 0.55: below every different-person distance measured on the shared test
photos and the video clip (smallest 0.63, see the report of issue 5), above most same-person
distances (live video frames of the same person up to ~0.6). It is provisional until an
office calibrates.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_THRESHOLD = 0.55
DEFAULT_SOURCE = "provisional default (0.55); not calibrated on this office's data"


@dataclass(frozen=True, slots=True)
class MatchPolicy:
    """Distance at or below `threshold` is a match; `source` says how it was chosen."""

    threshold: float = DEFAULT_THRESHOLD
    source: str = DEFAULT_SOURCE

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 2.0:
            raise ValueError("a face distance threshold lies between 0 and 2")

    def matches(self, distance: float) -> bool:
        return distance <= self.threshold
