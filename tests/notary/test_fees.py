"""notary/fees: reductions by rule with their reasons, and the elderly safeguard."""

from __future__ import annotations

import datetime as dt

import pytest

from notary.fees import (
    ActFacts,
    ApplicantFacts,
    FeeRules,
    MatterRefused,
    Service,
    assess,
)

pytestmark = pytest.mark.unit

TODAY = dt.date(2026, 11, 22)


def facts(age: int | None = 40, *, birthday_passed: bool = True, **flags: bool) -> ApplicantFacts:
    if age is None:
        return ApplicantFacts(birth_date=None, application_date=TODAY, **flags)
    born = dt.date(TODAY.year - age, TODAY.month, TODAY.day)
    if not birthday_passed:
        born += dt.timedelta(days=1)  # turns `age` tomorrow: still age - 1 today
    return ApplicantFacts(birth_date=born, application_date=TODAY, **flags)


def test_age_counts_whole_years_on_the_application_date() -> None:
    assert facts(80).age == 80
    assert facts(80, birthday_passed=False).age == 79
    leap = ApplicantFacts(dt.date(1944, 2, 29), dt.date(2024, 2, 28))
    assert leap.age == 79


def test_no_reduction_pays_the_base_fee() -> None:
    result = assess("will", 30_000, facts(50, first_will=True))
    assert (result.amount_fen, result.reductions) == (30_000, ())


def test_first_will_is_free_from_80() -> None:
    result = assess("will", 30_000, facts(80, first_will=True))
    assert result.amount_fen == 0
    (reduction,) = result.reductions
    assert reduction.rule == "first_will_free_elderly" and reduction.saved_fen == 30_000
    assert "80周岁" in reduction.reason_zh and "80 or over" in reduction.reason_en


@pytest.mark.parametrize(
    "applicant",
    [
        facts(80, birthday_passed=False, first_will=True),  # 79 today
        facts(85, first_will=False),  # a second will
        facts(None, first_will=True),  # age not established
    ],
)
def test_free_will_needs_80_and_a_first_will(applicant: ApplicantFacts) -> None:
    assert assess("will", 30_000, applicant).amount_fen == 30_000


def test_will_custody_is_free_from_60_and_only_for_wills() -> None:
    free = assess("will", 5_000, facts(60), service=Service.WILL_CUSTODY)
    assert free.amount_fen == 0 and free.reductions[0].rule == "will_custody_free_elderly"
    assert assess("will", 5_000, facts(59), service=Service.WILL_CUSTODY).amount_fen == 5_000
    # The free will rule is for notarizing it, not for custody, and custody not for a will.
    custody = assess("will", 5_000, facts(85, first_will=True), service=Service.WILL_CUSTODY)
    assert [r.rule for r in custody.reductions] == ["will_custody_free_elderly"]
    young = assess("will", 5_000, facts(59, first_will=True), service=Service.WILL_CUSTODY)
    assert young.amount_fen == 5_000
    with pytest.raises(ValueError, match="wills only"):
        assess("contract", 5_000, facts(70), service=Service.WILL_CUSTODY)


@pytest.mark.parametrize(
    "flag, rule, zh",
    [
        ("veteran", "veteran", "退役军人"),
        ("disability", "disability", "残疾人"),
        ("low_income", "low_income", "低收入"),
    ],
)
def test_hardship_reductions_show_their_reason(flag: str, rule: str, zh: str) -> None:
    result = assess("declaration", 20_001, facts(40, **{flag: True}))
    (reduction,) = result.reductions
    assert reduction.rule == rule and reduction.percent == 50 and zh in reduction.reason_zh
    # 50 % of 200.01 yuan: the odd fen goes to the applicant.
    assert (reduction.saved_fen, result.amount_fen) == (10_001, 10_000)


def test_reductions_do_not_add_up_the_best_one_applies() -> None:
    rules = FeeRules(veteran_percent=30, disability_percent=60, low_income_percent=40)
    result = assess(
        "declaration", 10_000, facts(veteran=True, disability=True, low_income=True), rules=rules
    )
    assert [r.rule for r in result.reductions] == ["disability"]
    assert result.amount_fen == 4_000
    free = assess("will", 10_000, facts(81, first_will=True, veteran=True))
    assert [r.rule for r in free.reductions] == ["first_will_free_elderly"]


def test_enterprise_fast_lane_applies_to_its_matters_only() -> None:
    contract = assess("contract", 100_000, facts(enterprise_fast_lane=True))
    assert contract.amount_fen == 80_000
    assert contract.reductions[0].rule == "enterprise_fast_lane"
    assert "绿色通道" in contract.reductions[0].reason_zh
    assert assess("will", 100_000, facts(enterprise_fast_lane=True)).amount_fen == 100_000


def test_rules_are_configurable_and_checked() -> None:
    rules = FeeRules(free_will_age=75, veteran_percent=100)
    assert assess("will", 30_000, facts(76, first_will=True), rules=rules).amount_fen == 0
    assert assess("declaration", 30_000, facts(veteran=True), rules=rules).amount_fen == 0
    with pytest.raises(ValueError, match="veteran_percent"):
        FeeRules(veteran_percent=120)
    with pytest.raises(ValueError, match="negative"):
        assess("will", -1, facts())


def test_general_power_to_dispose_of_an_elderly_persons_real_estate_is_refused() -> None:
    act = ActFacts(general_power=True, disposes_real_estate=True)
    with pytest.raises(MatterRefused) as refused:
        assess("power_of_attorney", 20_000, facts(72), act=act)
    assert refused.value.rule == "elderly_general_poa_real_estate"
    assert "不动产" in refused.value.reason_zh and "real estate" in refused.value.reason_en


@pytest.mark.parametrize(
    "age, act",
    [
        (59, ActFacts(general_power=True, disposes_real_estate=True)),  # not elderly
        (72, ActFacts(general_power=False, disposes_real_estate=True)),  # one named act
        (72, ActFacts(general_power=True, disposes_real_estate=False)),  # no real estate
    ],
)
def test_other_powers_of_attorney_are_accepted(age: int, act: ActFacts) -> None:
    assert assess("power_of_attorney", 20_000, facts(age), act=act).amount_fen == 20_000


def test_as_dict_is_bilingual() -> None:
    result = assess("will", 30_000, facts(90, first_will=True)).as_dict()
    reason = result["reductions"][0]["reason"]  # type: ignore[index]
    assert set(reason) == {"zh-CN", "en"}
    assert result["amount_fen"] == 0
