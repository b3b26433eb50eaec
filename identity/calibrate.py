"""Calibrate the match threshold on an office's own photos.

DIR holds one folder per person, each with two or more photos of that person (JPEG, PNG,
WebP). Every photo with exactly one face is encoded; every pair of photos gives a distance,
same-person pairs (genuine) and different-person pairs (impostor). The threshold for a
target false-match rate (FMR) is the largest distance at which at most that fraction of
impostor pairs would match.

An empirical FMR of 1/1000 needs thousands of impostor pairs to mean anything (with none
observed among N pairs, the 95 % upper bound on the FMR is about 3/N). Below that the report
says so (`supported: false`) and also gives the threshold a normal fit of the impostor
distances would put at the target; the threshold chosen is then the lower of the two.

`main(argv)` is the command `notarylink identity calibrate DIR [--target-fmr 0.001] [--json]`.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import statistics
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from identity.faces import Encoding, detect, encode, face_distance, model_info, resize

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp"})


@dataclass(frozen=True, slots=True)
class Distribution:
    count: int
    minimum: float | None
    p05: float | None
    median: float | None
    p95: float | None
    maximum: float | None
    mean: float | None
    stdev: float | None

    @classmethod
    def of(cls, values: Sequence[float]) -> Distribution:
        if not values:
            return cls(0, None, None, None, None, None, None, None)
        ordered = sorted(values)

        def q(p: float) -> float:
            return round(ordered[min(len(ordered) - 1, int(p * (len(ordered) - 1) + 0.5))], 4)

        return cls(
            count=len(ordered),
            minimum=round(ordered[0], 4),
            p05=q(0.05),
            median=q(0.5),
            p95=q(0.95),
            maximum=round(ordered[-1], 4),
            mean=round(statistics.fmean(ordered), 4),
            stdev=round(statistics.stdev(ordered), 4) if len(ordered) > 1 else None,
        )


@dataclass(frozen=True, slots=True)
class Calibration:
    target_fmr: float
    threshold: float
    empirical_threshold: float | None
    parametric_threshold: float | None
    supported: bool  # enough impostor pairs for the target
    pairs_needed: int
    fmr_at_threshold: float
    fnmr_at_threshold: float | None
    genuine: Distribution
    impostor: Distribution
    note: str


@dataclass(slots=True)
class Dataset:
    encodings: dict[str, list[tuple[str, Encoding]]] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # file, why


def load_dataset(root: Path, *, max_side: int = 1024) -> Dataset:
    """Encode every usable photo under root/PERSON/."""
    from identity.id_document import IntakeRefused, load_image

    data = Dataset()
    people = sorted(p for p in root.iterdir() if p.is_dir())
    if not people:
        raise ValueError(f"{root} has no folders (one folder per person)")
    for person in people:
        for path in sorted(person.iterdir()):
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            name = f"{person.name}/{path.name}"
            try:
                image = load_image(path.read_bytes())
            except IntakeRefused as exc:
                data.skipped.append((name, exc.reason.value))
                continue
            scale = min(1.0, max_side / max(image.shape[:2]))
            small = resize(image, scale)
            boxes = detect(small, upsample=0) or detect(small, upsample=1)
            if len(boxes) != 1:
                data.skipped.append((name, "no face" if not boxes else f"{len(boxes)} faces"))
                continue
            data.encodings.setdefault(person.name, []).append((name, encode(small, boxes)[0]))
    return data


def pair_distances(
    encodings: dict[str, list[tuple[str, Encoding]]],
) -> tuple[list[float], list[float]]:
    """(genuine, impostor) distances over all pairs of photos."""
    flat = [(person, e) for person, items in encodings.items() for _, e in items]
    genuine: list[float] = []
    impostor: list[float] = []
    for (pa, ea), (pb, eb) in itertools.combinations(flat, 2):
        (genuine if pa == pb else impostor).append(face_distance(ea, eb))
    return genuine, impostor


def threshold_for(
    genuine: Sequence[float], impostor: Sequence[float], target_fmr: float
) -> Calibration:
    if not 0 < target_fmr < 1:
        raise ValueError("the target false-match rate lies between 0 and 1")
    if len(impostor) < 2:
        raise ValueError("calibration needs photos of at least two people")
    ordered = sorted(impostor)
    n = len(ordered)
    allowed = math.floor(target_fmr * n)  # impostor pairs that may fall at or below
    # Just below the (allowed+1)-th smallest impostor distance.
    empirical = math.floor(ordered[allowed] * 1000 - 1e-9) / 1000
    mean, stdev = statistics.fmean(ordered), statistics.stdev(ordered)
    z = statistics.NormalDist().inv_cdf(target_fmr)
    parametric = math.floor((mean + z * stdev) * 1000) / 1000
    needed = math.ceil(3 / target_fmr)
    supported = n >= needed
    if supported:
        threshold, note = empirical, "empirical quantile of the impostor distances"
    else:
        threshold = min(empirical, parametric)
        note = (
            f"only {n} different-person pairs: {needed} are needed to support FMR "
            f"{target_fmr:g}; threshold is the lower of the empirical and the normal-fit value"
        )
    fmr = sum(d <= threshold for d in ordered) / n
    fnmr = sum(d > threshold for d in genuine) / len(genuine) if genuine else None
    return Calibration(
        target_fmr=target_fmr,
        threshold=threshold,
        empirical_threshold=empirical,
        parametric_threshold=parametric,
        supported=supported,
        pairs_needed=needed,
        fmr_at_threshold=round(fmr, 6),
        fnmr_at_threshold=None if fnmr is None else round(fnmr, 6),
        genuine=Distribution.of(genuine),
        impostor=Distribution.of(impostor),
        note=note,
    )


def calibrate(root: Path, *, target_fmr: float = 0.001) -> dict[str, Any]:
    """The whole report for a folder tree: dataset, distributions, threshold, model."""
    data = load_dataset(root)
    genuine, impostor = pair_distances(data.encodings)
    result = threshold_for(genuine, impostor, target_fmr)
    return {
        "people": len(data.encodings),
        "photos": sum(len(v) for v in data.encodings.values()),
        "skipped": [{"file": f, "why": why} for f, why in data.skipped],
        "calibration": asdict(result),
        "rates_at": {
            f"{t:.2f}": {
                "fmr": round(sum(d <= t for d in impostor) / len(impostor), 4),
                "fnmr": round(sum(d > t for d in genuine) / len(genuine), 4) if genuine else None,
            }
            for t in (0.45, 0.5, 0.55, 0.6)
        },
        "model": model_info().as_dict(),
        "distances": {
            "genuine": [round(d, 4) for d in sorted(genuine)],
            "impostor": [round(d, 4) for d in sorted(impostor)],
        },
    }


def _histogram(values: Sequence[float], lo: float = 0.0, hi: float = 1.2, bins: int = 12) -> str:
    width = (hi - lo) / bins
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, max(0, int((v - lo) / width)))] += 1
    top = max(counts) or 1
    return "\n".join(
        f"  {lo + i * width:4.2f}-{lo + (i + 1) * width:4.2f} {c:5d} {'#' * round(30 * c / top)}"
        for i, c in enumerate(counts)
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="notarylink identity calibrate",
        description="Face distance distributions and the threshold for a target false-match rate.",
    )
    parser.add_argument("dir", type=Path, help="one folder per person, photos inside")
    parser.add_argument("--target-fmr", type=float, default=0.001)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    if not args.dir.is_dir():
        print(f"calibrate: {args.dir} is not a folder", file=sys.stderr)
        return 2
    try:
        report = calibrate(args.dir, target_fmr=args.target_fmr)
    except ValueError as exc:
        print(f"calibrate: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    cal = report["calibration"]
    print(f"people {report['people']}, photos {report['photos']}, skipped {len(report['skipped'])}")
    for item in report["skipped"]:
        print(f"  skipped {item['file']}: {item['why']}")
    for label in ("genuine", "impostor"):
        d = cal[label]
        print(
            f"{label:9} pairs {d['count']:5d}  min {d['minimum']}  p05 {d['p05']}  "
            f"median {d['median']}  p95 {d['p95']}  max {d['maximum']}"
        )
    for label in ("genuine", "impostor"):
        print(f"{label} distances:")
        print(_histogram(report["distances"][label]))
    print(f"target FMR {cal['target_fmr']:g}: threshold {cal['threshold']:.3f} ({cal['note']})")
    print(
        f"  empirical {cal['empirical_threshold']}, normal fit {cal['parametric_threshold']}, "
        f"FMR {cal['fmr_at_threshold']}, FNMR {cal['fnmr_at_threshold']}"
    )
    for t, rates in report["rates_at"].items():
        print(f"  at {t}: FMR {rates['fmr']}  FNMR {rates['fnmr']}")
    print(f"model: {report['model']['name']} ({report['model']['version']})")
    return 0
