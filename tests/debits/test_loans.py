"""Opening a loan: its schedule is written to the cent, bad terms are refused, it is audited."""

import datetime as dt
from decimal import Decimal

import pytest

from accounts.models import AuditEvent, Card
from debits.amortisation import equal_instalment_schedule
from debits.models import Instalment, Loan
from debits.services import LoanTermsError, open_loan
from tests.factories import CardFactory, LoanFactory, StaffUserFactory

pytestmark = pytest.mark.django_db

START = dt.date(2025, 1, 31)


def _open(card, **terms):
    values = {
        "reference": "LN0000000001",
        "principal": Decimal("120000.00"),
        "annual_rate": Decimal("0.048"),
        "term_months": 12,
        "start_date": START,
        "actor": None,
    }
    return open_loan(card=card, **{**values, **terms})


def test_opening_a_loan_writes_its_equal_instalment_schedule_to_the_cent():
    card = CardFactory()
    officer = StaffUserFactory()

    loan = _open(card, actor=officer, vehicle="BYD Han EV")

    expected = equal_instalment_schedule(
        principal=Decimal("120000.00"),
        annual_rate=Decimal("0.048"),
        term_months=12,
        start_date=START,
    )
    rows = list(loan.instalments.order_by("sequence"))
    assert [
        (i.sequence, i.due_date, i.principal_part, i.interest_part, i.amount_due) for i in rows
    ] == [
        (r.sequence, r.due_date, r.principal_part, r.interest_part, r.amount_due) for r in expected
    ]
    assert {i.state for i in rows} == {Instalment.State.SCHEDULED}
    assert sum(i.principal_part for i in rows) == Decimal("120000.00")
    assert rows[0].due_date == dt.date(2025, 2, 28)
    loan.refresh_from_db()
    assert (loan.card, loan.status, loan.vehicle) == (card, Loan.Status.ACTIVE, "BYD Han EV")


def test_opening_a_loan_is_audited_with_the_officer_who_opened_it():
    officer = StaffUserFactory()

    loan = _open(CardFactory(), actor=officer)

    event = AuditEvent.objects.get(action="loan.opened")
    assert (event.actor, event.object_type, event.object_id) == (
        officer,
        "debits.loan",
        str(loan.pk),
    )
    assert event.summary["principal"] == "120000.00"
    assert event.summary["term_months"] == 12


@pytest.mark.parametrize(
    ("terms", "message"),
    [
        ({"principal": Decimal("0.00")}, "Principal must be a positive amount"),
        ({"principal": Decimal("100.001")}, "whole cents"),
        ({"principal": 1000.0}, "must be Decimal"),
        ({"term_months": 0}, "Term must be 1 to 360 months"),
        ({"annual_rate": Decimal("1")}, "fraction between 0 and 1"),
        ({"annual_rate": Decimal("0.0480001")}, "at most six decimal places"),
    ],
)
def test_a_loan_with_bad_terms_is_refused_with_a_clear_message_and_nothing_written(terms, message):
    with pytest.raises(LoanTermsError, match=message):
        _open(CardFactory(), **terms)
    assert not Loan.objects.exists()
    assert not Instalment.objects.exists()
    assert not AuditEvent.objects.filter(action="loan.opened").exists()


def test_a_loan_is_not_opened_on_a_locked_card():
    with pytest.raises(LoanTermsError, match="only on an active card"):
        _open(CardFactory(status=Card.Status.LOCKED))
    assert not Loan.objects.exists()


def test_a_loan_reference_is_used_once():
    LoanFactory(reference="LN0000000001")
    with pytest.raises(LoanTermsError, match="LN0000000001 already exists"):
        _open(CardFactory())
    assert Loan.objects.count() == 1
