"""Load seeding writes plain rows fast, but rows the domain's services would write."""

import datetime as dt

import pytest
from django.conf import settings
from django.utils import timezone

from debits.amortisation import add_months
from debits.models import Instalment, Mandate
from debits.services import create_mandate, open_loan
from demo.load_book import ANNUAL_RATE, PRINCIPAL, TERM_MONTHS, seed_due_instalments
from tests.factories import CardFactory

pytestmark = pytest.mark.django_db


def test_each_due_instalment_is_the_first_of_its_loans_schedule_under_acceptable_terms():
    due = timezone.localdate()
    ids = seed_due_instalments(count=3, due_date=due)

    opened = open_loan(
        card=CardFactory(),
        reference="LN-COMPARE",
        principal=PRINCIPAL,
        annual_rate=ANNUAL_RATE,
        term_months=TERM_MONTHS,
        start_date=add_months(due, -1),
        actor=None,
    )
    first = opened.instalments.get(sequence=1)
    for instalment in Instalment.objects.filter(pk__in=ids).select_related("loan"):
        assert instalment.due_date == due
        assert instalment.state == Instalment.State.DUE
        assert (instalment.principal_part, instalment.interest_part, instalment.amount_due) == (
            first.principal_part,
            first.interest_part,
            first.amount_due,
        )
        mandate = Mandate.objects.get(loan=instalment.loan)
        assert mandate.state == Mandate.State.ACTIVE
        assert mandate.is_in_sync
        assert mandate.payee == settings.DEBIT_PAYEE_NAME
        assert mandate.purpose == f"Car loan {instalment.loan.reference} repayment"
    # Terms like the seeded mandates' are ones create_mandate accepts.
    create_mandate(
        loan=opened,
        reference="MD-COMPARE",
        settlement_account="6217000000000042",
        valid_from=mandate.valid_from,
        valid_until=mandate.valid_until,
        per_debit_cap=mandate.per_debit_cap,
        actor=None,
    )
    assert mandate.valid_until >= due + dt.timedelta(days=365)
