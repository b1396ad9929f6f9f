"""Late-fee arithmetic as properties (debits/services/fees.py).

The rules: an instalment still open after the grace period is charged one fee of
the fixed amount plus the rate times what is outstanding, rounded half-up to the
fen; a fee of nothing is not charged; a second pass charges nothing more; a staff
waiver above the threshold waits for a supervisor who did not ask for it.
"""

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.test import override_settings
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from accounts.models import AuditEvent
from accounts.roles import Role
from debits.models import Instalment, LateFee
from debits.services import FeeWaiverError, accrue_late_fees, approve_fee_waiver, waive_late_fee
from debits.services.fees import late_fee_amount
from tests.factories import InstalmentFactory, LoanFactory, StaffUserFactory
from tests.properties import generated, rolled_back, tried

CENT = Decimal("0.01")
fen = st.integers(min_value=0, max_value=10**12).map(lambda n: Decimal(n) / 100)
fixed_amounts = st.sampled_from(
    [Decimal("0"), Decimal("0.01"), Decimal("50.00"), Decimal("999.99")]
)
rates = st.integers(min_value=0, max_value=1000).map(lambda bp: Decimal(bp) / 10_000)


@generated()
@given(fixed=fixed_amounts, rate=rates, outstanding=fen, more=fen)
def test_a_fee_is_the_fixed_amount_plus_the_rate_rounded_half_up_to_the_fen(
    fixed, rate, outstanding, more
):
    tried("fees: late_fee_amount")
    with override_settings(LATE_FEE_AMOUNT=fixed, LATE_FEE_RATE=rate):
        fee = late_fee_amount(outstanding)
        exact = fixed + rate * outstanding
        assert fee == fee.quantize(CENT)
        assert abs(fee - exact) <= CENT / 2
        assert fee == exact.quantize(CENT, rounding=ROUND_HALF_UP)
        assert fee >= fixed >= 0
        assert late_fee_amount(outstanding + more) >= fee


# One instalment of the book: days past its due date, the share of it paid, and
# whether it was paid in full.
instalments = st.tuples(
    st.integers(min_value=-5, max_value=60),
    st.integers(min_value=0, max_value=99),
    st.booleans(),
)


@generated(scale=0.15)
@given(
    book=st.lists(instalments, min_size=1, max_size=6),
    fixed=fixed_amounts,
    rate=rates,
    grace=st.integers(0, 10),
)
@pytest.mark.django_db
def test_each_late_open_instalment_is_charged_once_and_nothing_else_is(book, fixed, rate, grace):
    tried("fees: accrue_late_fees")
    today = timezone.localdate()
    with (
        rolled_back(),
        override_settings(LATE_FEE_AMOUNT=fixed, LATE_FEE_RATE=rate, LATE_FEE_GRACE_DAYS=grace),
    ):
        loan = LoanFactory()
        rows = []
        for sequence, (days_late, paid_percent, paid_in_full) in enumerate(book, start=1):
            due = Decimal("10280.00")
            paid = due if paid_in_full else (due * paid_percent / 100).quantize(CENT)
            rows.append(
                InstalmentFactory(
                    loan=loan,
                    sequence=sequence,
                    due_date=today - dt.timedelta(days=days_late),
                    amount_paid=paid,
                    state=Instalment.State.PAID if paid_in_full else Instalment.State.DUE,
                )
            )

        first = accrue_late_fees(on_date=today)
        second = accrue_late_fees(on_date=today)

        assert (second["accrued"], second["waived"]) == (0, 0)
        charged = 0
        for row, (days_late, _, paid_in_full) in zip(rows, book, strict=True):
            row.refresh_from_db()
            fee = LateFee.objects.filter(instalment=row).first()
            late = not paid_in_full and days_late > grace
            amount = late_fee_amount(row.amount_due - row.amount_paid)
            if late:
                assert row.state == Instalment.State.OVERDUE
            if late and amount > 0:
                charged += 1
                assert fee is not None and fee.amount == amount
                # No attempt, skip or failed re-sync: the customer's, so it stands.
                assert (fee.state, fee.cause) == (LateFee.State.ACCRUED, "not_collected")
            else:
                assert fee is None
        assert first["accrued"] + first["waived"] == charged
        assert AuditEvent.objects.filter(action="late_fee.accrual_run").count() == 2


@generated(scale=0.15)
@given(amount=st.integers(min_value=1, max_value=100_000).map(lambda n: Decimal(n) / 100))
@pytest.mark.django_db
def test_a_waiver_waits_for_a_second_supervisor_exactly_above_the_threshold(settings, amount):
    tried("fees: waive_late_fee / approve_fee_waiver")
    threshold = settings.LATE_FEE_WAIVER_APPROVAL_THRESHOLD
    with rolled_back():
        fee = LateFee.objects.create(instalment=InstalmentFactory(), amount=amount)
        requester = StaffUserFactory(role=Role.SUPERVISOR.value)
        waive_late_fee(fee=fee, reason="Goodwill after a complaint", actor=requester)
        fee.refresh_from_db()
        if amount <= threshold:
            assert fee.state == LateFee.State.WAIVED
            return
        assert fee.state == LateFee.State.WAIVER_PENDING
        with pytest.raises(FeeWaiverError):
            approve_fee_waiver(fee=fee, approver=requester)
        approver = StaffUserFactory(role=Role.SUPERVISOR.value)
        approve_fee_waiver(fee=fee, approver=approver)
        fee.refresh_from_db()
        assert (fee.state, fee.waiver_approved_by, fee.amount) == (
            LateFee.State.WAIVED,
            approver,
            amount,
        )
