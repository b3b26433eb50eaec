"""Retention classes: how long the object store must refuse to delete a piece of evidence.

Chinese notarial archives are kept short-term, long-term or permanently. A class maps to an
object-lock COMPLIANCE period in years, or to a legal hold (no end date) for permanent files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

_CLASS = re.compile(r"^(?P<name>[a-z][a-z0-9_-]{0,31})=(?:(?P<years>\d{1,3})y|(?P<hold>hold))$")


@dataclass(frozen=True)
class RetentionClass:
    name: str
    years: int | None  # None: legal hold, kept until a person lifts the hold outside the platform

    @property
    def legal_hold(self) -> bool:
        return self.years is None

    @property
    def spec(self) -> str:
        return f"{self.name}=hold" if self.years is None else f"{self.name}={self.years}y"

    def retain_until(self, now: datetime) -> datetime | None:
        """The COMPLIANCE retain-until date for an object written at `now` (None for a hold)."""
        if self.years is None:
            return None
        try:
            return now.replace(year=now.year + self.years)
        except ValueError:  # 29 February in a year that has none: keep one day longer
            return (now + timedelta(days=1)).replace(year=now.year + self.years)


def parse_retention_classes(spec: str) -> tuple[RetentionClass, ...]:
    """Parse `short=20y,long=60y,permanent=hold`; names unique, years between 1 and 999."""
    classes: list[RetentionClass] = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        match = _CLASS.match(item)
        if not match:
            raise ValueError(f"{item!r} is not NAME=<years>y or NAME=hold")
        years = int(match["years"]) if match["years"] else None
        if years == 0:
            raise ValueError(f"{item!r}: retention must be at least one year")
        if any(c.name == match["name"] for c in classes):
            raise ValueError(f"class {match['name']!r} is defined twice")
        classes.append(RetentionClass(match["name"], years))
    if not classes:
        raise ValueError("at least one retention class is required")
    return tuple(classes)


def find_class(classes: tuple[RetentionClass, ...], name: str) -> RetentionClass:
    for retention_class in classes:
        if retention_class.name == name:
            return retention_class
    known = ", ".join(c.name for c in classes)
    raise KeyError(f"unknown retention class {name!r} (known: {known})")
