"""Equal-instalment schedules are exact to the cent for any principal, rate and term."""

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from debits.amortisation import CENT, add_months, equal_instalment_schedule, monthly_payment

# Car loans and beyond: 1,000.00 to 1,000,000.00 CNY to the cent, 0 to 12 % a year
# in basis points, 1 to 120 months. (At extremes far outside the book, such as
# 24 % over 30 years on 1,000 CNY, the cent-rounded annuity repays early and the
# schedule refuses the loan rather than produce zero instalments.)
principals = st.integers(min_value=100_000, max_value=100_000_000).map(
    lambda cents: Decimal(cents) / 100
)
rates = st.integers(min_value=0, max_value=1200).map(lambda bp: Decimal(bp) / 10_000)
terms = st.integers(min_value=1, max_value=120)
start_dates = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2060, 12, 31))


def rounding_drift(rate: Decimal, term: int) -> Decimal:
    """At most a cent of rounding a month (payment and interest, half a cent each),
    each compounding at the monthly rate until the last instalment absorbs it."""
    r = rate / 12
    return CENT * term if r == 0 else CENT * ((1 + r) ** term - 1) / r


def _schedule(principal, rate, term, start=dt.date(2025, 1, 15)):
    return equal_instalment_schedule(
        principal=principal, annual_rate=rate, term_months=term, start_date=start
    )


@settings(max_examples=200, deadline=None)
@given(principal=principals, rate=rates, term=terms)
def test_a_schedule_repays_the_principal_and_its_interest_exactly_to_the_cent(
    principal, rate, term
):
    schedule = _schedule(principal, rate, term)

    assert [row.sequence for row in schedule] == list(range(1, term + 1))
    assert sum(row.principal_part for row in schedule) == principal
    total_interest = sum(row.interest_part for row in schedule)
    assert sum(row.amount_due for row in schedule) == principal + total_interest
    for row in schedule:
        for amount in (row.principal_part, row.interest_part, row.amount_due):
            assert amount == amount.quantize(CENT)
        assert row.interest_part >= 0
        assert row.amount_due > 0


@settings(max_examples=200, deadline=None)
@given(principal=principals, rate=rates, term=terms)
def test_every_instalment_but_the_last_is_the_annuity_and_the_last_absorbs_the_rounding(
    principal, rate, term
):
    schedule = _schedule(principal, rate, term)
    payment = monthly_payment(principal, rate, term)

    assert all(row.amount_due == payment for row in schedule[:-1])
    last = schedule[-1]
    assert last.principal_part == principal - sum(row.principal_part for row in schedule[:-1])
    assert abs(last.amount_due - payment) <= rounding_drift(rate, term)


@settings(max_examples=100, deadline=None)
@given(principal=principals, rate=rates.filter(bool), term=terms)
def test_total_interest_matches_the_exact_annuity_within_a_cent_per_instalment(
    principal, rate, term
):
    r = rate / 12
    exact_total = principal * r / (1 - (1 + r) ** -term) * term
    total = sum(row.amount_due for row in _schedule(principal, rate, term))
    assert abs(total - exact_total) <= rounding_drift(rate, term)


def test_a_zero_rate_loan_has_no_interest():
    schedule = _schedule(Decimal("1000.00"), Decimal("0"), 3)
    assert [row.interest_part for row in schedule] == [0, 0, 0]
    assert [row.amount_due for row in schedule] == [
        Decimal("333.33"),
        Decimal("333.33"),
        Decimal("333.34"),
    ]


def test_a_known_schedule_matches_the_banks_figures():
    schedule = _schedule(Decimal("120000.00"), Decimal("0.048"), 12)
    # 120,000 at 0.4 % a month over 12: 10,261.90 a month (10,261.9028 unrounded).
    assert schedule[0].amount_due == Decimal("10261.90")
    assert schedule[0].interest_part == Decimal("480.00")
    assert schedule[-1].amount_due - Decimal("10261.90") <= CENT * 12


def test_instalments_fall_due_on_the_same_day_or_the_months_last_day():
    schedule = _schedule(Decimal("5000.00"), Decimal("0.05"), 4, start=dt.date(2024, 1, 31))
    assert [row.due_date for row in schedule] == [
        dt.date(2024, 2, 29),
        dt.date(2024, 3, 31),
        dt.date(2024, 4, 30),
        dt.date(2024, 5, 31),
    ]
    assert add_months(dt.date(2023, 1, 31), 1) == dt.date(2023, 2, 28)
    assert add_months(dt.date(2023, 11, 30), 3) == dt.date(2024, 2, 29)


@settings(max_examples=100, deadline=None)
@given(start=start_dates, term=st.integers(min_value=1, max_value=60))
def test_due_dates_are_one_calendar_month_apart(start, term):
    schedule = _schedule(Decimal("60000.00"), Decimal("0.05"), term, start=start)
    for row in schedule:
        months = (row.due_date.year - start.year) * 12 + row.due_date.month - start.month
        assert months == row.sequence
        assert row.due_date.day == start.day or (
            row.due_date.day < start.day and (row.due_date + dt.timedelta(days=1)).day == 1
        )


@pytest.mark.parametrize(
    ("principal", "rate", "term", "error"),
    [
        (120000.0, Decimal("0.05"), 12, TypeError),
        (Decimal("120000"), 0.05, 12, TypeError),
        (Decimal("0"), Decimal("0.05"), 12, ValueError),
        (Decimal("-100.00"), Decimal("0.05"), 12, ValueError),
        (Decimal("100.001"), Decimal("0.05"), 12, ValueError),
        (Decimal("1000.00"), Decimal("0.05"), 0, ValueError),
        (Decimal("1000.00"), Decimal("0.05"), 361, ValueError),
        (Decimal("1000.00"), Decimal("-0.01"), 12, ValueError),
        (Decimal("1000.00"), Decimal("1"), 12, ValueError),
        (Decimal("0.05"), Decimal("0"), 12, ValueError),
    ],
)
def test_it_refuses_bad_loan_terms(principal, rate, term, error):
    with pytest.raises(error):
        equal_instalment_schedule(
            principal=principal, annual_rate=rate, term_months=term, start_date=dt.date(2025, 1, 1)
        )
