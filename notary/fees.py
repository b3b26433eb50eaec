"""Fees: what an applicant pays for a matter, which reductions apply and why, and refusals.

Pure rules (no database): `assess` takes the matter, its base fee from the catalog (in fen,
1/100 yuan) and the applicant's facts, and returns the amount with every reduction applied,
each with its reason in both languages. Sources: PRODUCT.md ("Care for the elderly and people
in hardship", "Enterprise fast lane") names the free will at 80+ (first will), free will
custody at 60+, reductions for veterans, people with disabilities and low-income families,
and the refusal of a general power of attorney to dispose of an elderly person's real estate.
Where PRODUCT.md names a rule but not its figure (the size of a reduction, the age from which
a person counts as elderly, which matters the fast lane covers), the figure is data in
`FeeRules`, meant to be set per office from its provincial price schedule.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

WILL_MATTER = "will"
POWER_OF_ATTORNEY_MATTER = "power_of_attorney"


class Service(StrEnum):
    NOTARIZATION = "notarization"  # the matter itself
    WILL_CUSTODY = "will_custody"  # keeping a will in the office's custody (遗嘱保管)


@dataclass(frozen=True)
class FeeRules:
    # From PRODUCT.md.
    free_will_age: int = 80
    free_will_custody_age: int = 60
    # PRODUCT.md names these reductions but not their size: per-office data, in percent.
    veteran_percent: int = 50
    disability_percent: int = 50
    low_income_percent: int = 50
    fast_lane_percent: int = 20
    fast_lane_matters: frozenset[str] = frozenset({"contract", "enforceable_debt"})
    # PRODUCT.md says "elderly" without an age; 60 is the age from which PRC law on the
    # elderly (老年人权益保障法, art. 2) counts a person as elderly. Per-office data.
    elderly_age: int = 60

    def __post_init__(self) -> None:
        for name in ("veteran", "disability", "low_income", "fast_lane"):
            percent = getattr(self, f"{name}_percent")
            if not 0 <= percent <= 100:
                raise ValueError(f"{name}_percent must be 0..100, not {percent}")


DEFAULT_RULES = FeeRules()


@dataclass(frozen=True)
class ApplicantFacts:
    """What the fee depends on, as checked by the notary (not as merely claimed)."""

    birth_date: dt.date | None
    application_date: dt.date
    veteran: bool = False
    disability: bool = False
    low_income: bool = False
    enterprise_fast_lane: bool = False
    first_will: bool = False

    @property
    def age(self) -> int | None:
        """Whole years on the application date (a birthday counts from that day)."""
        if self.birth_date is None:
            return None
        born, on = self.birth_date, self.application_date
        return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


@dataclass(frozen=True)
class ActFacts:
    """What the act does, for a power of attorney (委托书)."""

    general_power: bool = False  # 全权委托: not limited to named acts
    disposes_real_estate: bool = False  # may sell, mortgage or give away real estate


@dataclass(frozen=True)
class Reduction:
    rule: str
    percent: int
    saved_fen: int
    reason_zh: str
    reason_en: str


@dataclass(frozen=True)
class Assessment:
    matter_code: str
    service: Service
    base_fen: int
    amount_fen: int
    reductions: tuple[Reduction, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, object]:
        return {
            "matter_code": self.matter_code,
            "service": self.service.value,
            "base_fen": self.base_fen,
            "amount_fen": self.amount_fen,
            "reductions": [
                {
                    "rule": r.rule,
                    "percent": r.percent,
                    "saved_fen": r.saved_fen,
                    "reason": {"zh-CN": r.reason_zh, "en": r.reason_en},
                }
                for r in self.reductions
            ],
        }


class MatterRefused(Exception):
    """The platform will not take this matter on; the explanation is for the applicant."""

    def __init__(self, rule: str, reason_zh: str, reason_en: str) -> None:
        super().__init__(reason_en)
        self.rule = rule
        self.reason_zh = reason_zh
        self.reason_en = reason_en


def check_safeguards(
    matter_code: str, applicant: ApplicantFacts, act: ActFacts, rules: FeeRules = DEFAULT_RULES
) -> None:
    """Raise MatterRefused for a matter the office refuses outright, whatever the fee."""
    age = applicant.age
    elderly = age is not None and age >= rules.elderly_age
    if (
        matter_code == POWER_OF_ATTORNEY_MATTER
        and elderly
        and act.general_power
        and act.disposes_real_estate
    ):
        raise MatterRefused(
            "elderly_general_poa_real_estate",
            f"为保护老年人财产安全，本处不办理{rules.elderly_age}周岁以上老年人全权委托他人"
            "处分其不动产的委托公证。如需出售、抵押或赠与房产，请对每一项具体事项分别委托，"
            "或由本人亲自办理；公证员将核实您的身份和真实意愿。",
            f"To protect elderly people's property, this office does not notarize a general "
            f"power of attorney to dispose of the real estate of a person aged "
            f"{rules.elderly_age} or over. To sell, mortgage or give away a property, grant a "
            "power limited to that one named act, or act in person; the notary will check your "
            "identity and your own wish.",
        )


def _percent_of(base_fen: int, percent: int) -> int:
    # Rounded up: a fraction of a fen goes to the applicant.
    return -(-base_fen * percent // 100)


def assess(
    matter_code: str,
    base_fen: int,
    applicant: ApplicantFacts,
    *,
    service: Service = Service.NOTARIZATION,
    act: ActFacts | None = None,
    rules: FeeRules = DEFAULT_RULES,
) -> Assessment:
    """The fee after reductions. Raises MatterRefused (safeguards) and ValueError (bad input).

    Reductions do not add up: the most favourable one applies (a free rule beats them all),
    and it is the one shown with its reason.
    """
    if base_fen < 0:
        raise ValueError("a base fee cannot be negative")
    check_safeguards(matter_code, applicant, act or ActFacts(), rules)
    age = applicant.age
    candidates: list[tuple[str, int, str, str]] = []
    if service is Service.WILL_CUSTODY:
        if matter_code != WILL_MATTER:
            raise ValueError("custody is a service for wills only")
        if age is not None and age >= rules.free_will_custody_age:
            candidates.append(
                (
                    "will_custody_free_elderly",
                    100,
                    f"{rules.free_will_custody_age}周岁以上老年人遗嘱保管免费",
                    f"Will custody is free for people aged {rules.free_will_custody_age} or over",
                )
            )
    elif (
        matter_code == WILL_MATTER
        and applicant.first_will
        and age is not None
        and age >= rules.free_will_age
    ):
        candidates.append(
            (
                "first_will_free_elderly",
                100,
                f"{rules.free_will_age}周岁以上老年人首次办理遗嘱公证免费",
                f"A first will is notarized free for people aged {rules.free_will_age} or over",
            )
        )
    if applicant.veteran:
        candidates.append(
            (
                "veteran",
                rules.veteran_percent,
                f"退役军人及优抚对象减收{rules.veteran_percent}%",
                f"Veterans: {rules.veteran_percent}% reduction",
            )
        )
    if applicant.disability:
        candidates.append(
            (
                "disability",
                rules.disability_percent,
                f"残疾人减收{rules.disability_percent}%",
                f"People with disabilities: {rules.disability_percent}% reduction",
            )
        )
    if applicant.low_income:
        candidates.append(
            (
                "low_income",
                rules.low_income_percent,
                f"低收入家庭（低保、特困）减收{rules.low_income_percent}%",
                f"Low-income families: {rules.low_income_percent}% reduction",
            )
        )
    if applicant.enterprise_fast_lane and matter_code in rules.fast_lane_matters:
        candidates.append(
            (
                "enterprise_fast_lane",
                rules.fast_lane_percent,
                f"小微企业绿色通道优惠{rules.fast_lane_percent}%",
                f"Enterprise fast lane (small businesses): {rules.fast_lane_percent}% reduction",
            )
        )
    candidates = [c for c in candidates if c[1] > 0]
    if not candidates or base_fen == 0:
        return Assessment(matter_code, service, base_fen, base_fen)
    rule, percent, reason_zh, reason_en = max(candidates, key=lambda c: c[1])
    saved = min(base_fen, _percent_of(base_fen, percent))
    reduction = Reduction(rule, percent, saved, reason_zh, reason_en)
    return Assessment(matter_code, service, base_fen, base_fen - saved, (reduction,))
