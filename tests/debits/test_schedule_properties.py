"""The schedule's arithmetic, over the whole range open_loan accepts (not only the book's).

For any loan the schedule accepts: whole fen everywhere, nothing negative, the
principal parts sum to the principal and the amounts to principal plus interest
exactly, every instalment but the last is the annuity and the last takes the
rounding, and the due dates climb one calendar month at a time. A loan the
arithmetic cannot schedule is refused with a message, never half-written.
"""

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accounts.models import AuditEvent
from debits.amortisation import add_months, equal_instalment_schedule, monthly_payment
from debits.models import Instalment, Loan
from debits.services import LoanTermsError, open_loan
from tests.factories import CardFactory, StaffUserFactory
from tests.properties import generated, rolled_back, tried

# Everything the schedule's guards let through: 0.01 to 1,000,000,000.00 CNY,
# 0 to 99.9999 % a year to six places, 1 to 360 months.
principals_fen = st.integers(min_value=1, max_value=100_000_000_000)
rates = st.integers(min_value=0, max_value=999_999).map(lambda ppm: Decimal(ppm) / 1_000_000)
terms = st.integers(min_value=1, max_value=360)
starts = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2100, 12, 31))


def fen(amount: Decimal) -> int:
    """An amount in whole fen; fails on a fraction of a fen."""
    minor = amount * 100
    assert minor == minor.to_integral_value(), amount
    return int(minor)


@generated(scale=3)
@given(principal=principals_fen, rate=rates, term=terms, start=starts)
def test_any_accepted_schedule_is_exact_in_fen_and_never_negative(principal, rate, term, start):
    tried("schedule: equal_instalment_schedule")
    try:
        schedule = equal_instalment_schedule(
            principal=Decimal(principal) / 100, annual_rate=rate, term_months=term, start_date=start
        )
    except ValueError as refused:
        # Only a loan whose cent-rounded annuity repays it before the last month.
        assert "too small" in str(refused)
        tried("schedule: equal_instalment_schedule (refused: too small)")
        return

    principal_parts = [fen(row.principal_part) for row in schedule]
    interest_parts = [fen(row.interest_part) for row in schedule]
    amounts = [fen(row.amount_due) for row in schedule]
    assert sum(principal_parts) == principal
    assert sum(amounts) == principal + sum(interest_parts)
    assert all(part >= 0 for part in principal_parts + interest_parts)
    assert all(amount > 0 for amount in amounts)
    payment = fen(monthly_payment(Decimal(principal) / 100, rate, term))
    assert all(amount == payment for amount in amounts[:-1])
    # The rounding each month (half a fen on the payment, half on the interest)
    # compounds at the monthly rate until the last instalment absorbs it.
    r = rate / 12
    drift = Decimal(term) if r == 0 else ((1 + r) ** term - 1) / r
    assert abs(amounts[-1] - payment) <= drift
    # The last takes whatever balance is left, so its principal part closes the loan.
    assert principal_parts[-1] == principal - sum(principal_parts[:-1])


@generated(scale=2)
@given(start=starts, term=terms)
def test_due_dates_climb_one_calendar_month_at_a_time(start, term):
    tried("schedule: due dates")
    schedule = equal_instalment_schedule(
        principal=Decimal("500000.00"),
        annual_rate=Decimal("0.05"),
        term_months=term,
        start_date=start,
    )
    dates = [row.due_date for row in schedule]
    assert start < dates[0]
    assert all(earlier < later for earlier, later in zip(dates, dates[1:], strict=False))
    assert dates == [add_months(start, n) for n in range(1, term + 1)]
    for sequence, due in enumerate(dates, start=1):
        # Never later than the same day n months on; earlier only at a short month's end.
        assert due.day == start.day or due.day < start.day and (due + dt.timedelta(1)).day == 1
        assert (due.year - start.year) * 12 + due.month - start.month == sequence


@generated(scale=0.1)
@given(principal=principals_fen, rate=rates, term=st.integers(min_value=1, max_value=24))
@pytest.mark.django_db
def test_an_opened_loan_stores_exactly_the_schedule_or_nothing(principal, rate, term):
    tried("schedule: open_loan")
    with rolled_back():
        card = CardFactory()
        officer = StaffUserFactory()
        amount = Decimal(principal) / 100
        try:
            loan = open_loan(
                card=card,
                reference="LN-PROP-1",
                principal=amount,
                annual_rate=rate,
                term_months=term,
                start_date=dt.date(2026, 1, 31),
                actor=officer,
            )
        except LoanTermsError:
            assert not Loan.objects.filter(card=card).exists()
            assert not Instalment.objects.filter(loan__card=card).exists()
            return
        rows = list(loan.instalments.order_by("sequence"))
        assert [row.sequence for row in rows] == list(range(1, term + 1))
        assert sum(fen(row.principal_part) for row in rows) == principal
        assert all(row.amount_due == row.principal_part + row.interest_part for row in rows)
        assert all(row.state == Instalment.State.SCHEDULED and row.amount_paid == 0 for row in rows)
        event = AuditEvent.objects.get(action="loan.opened", object_id=str(loan.pk))
        assert event.actor == officer
        assert Decimal(event.summary["total_interest"]) == sum(row.interest_part for row in rows)
