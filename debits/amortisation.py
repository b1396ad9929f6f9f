"""Equal-instalment (annuity) amortisation, exact to the cent.

Each month's interest is rounded to the cent on the outstanding balance; the
payment is the annuity amount rounded to the cent, and the last instalment
takes whatever balance is left, so the principal parts sum to the principal
exactly and the amounts sum to principal plus interest exactly.
"""

import calendar
import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext

CENT = Decimal("0.01")


@dataclass(frozen=True)
class ScheduledInstalment:
    sequence: int
    due_date: dt.date
    principal_part: Decimal
    interest_part: Decimal

    @property
    def amount_due(self) -> Decimal:
        return self.principal_part + self.interest_part


def add_months(day: dt.date, months: int) -> dt.date:
    """Same day ``months`` later, clamped to the month's end (31 Jan + 1 → 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def monthly_payment(principal: Decimal, annual_rate: Decimal, term_months: int) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 40
        if annual_rate == 0:
            return _cents(principal / term_months)
        r = annual_rate / 12
        return _cents(principal * r / (1 - (1 + r) ** -term_months))


def equal_instalment_schedule(
    *, principal: Decimal, annual_rate: Decimal, term_months: int, start_date: dt.date
) -> list[ScheduledInstalment]:
    if not isinstance(principal, Decimal) or not isinstance(annual_rate, Decimal):
        raise TypeError("principal and annual_rate must be Decimal")
    if principal <= 0 or principal != _cents(principal):
        raise ValueError("principal must be a positive amount in whole cents")
    if not 1 <= term_months <= 360:
        raise ValueError("term must be 1 to 360 months")
    if not Decimal(0) <= annual_rate < 1:
        raise ValueError("annual rate must be a fraction between 0 and 1")

    payment = monthly_payment(principal, annual_rate, term_months)
    monthly_rate = annual_rate / 12
    balance = principal
    schedule = []
    for sequence in range(1, term_months + 1):
        interest = _cents(balance * monthly_rate)
        # The last instalment takes the rounding left over from the others.
        last = sequence == term_months
        principal_part = balance if last else min(payment - interest, balance)
        if principal_part + interest <= 0:
            raise ValueError("principal too small for this term: an instalment would be zero")
        balance -= principal_part
        schedule.append(
            ScheduledInstalment(
                sequence=sequence,
                due_date=add_months(start_date, sequence),
                principal_part=principal_part,
                interest_part=interest,
            )
        )
    return schedule
