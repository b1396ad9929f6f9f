"""The demo book's complaints: every state, and the seed case a newcomer opens first."""

import pytest

from backoffice.complaints.models import Complaint, RootCause
from backoffice.complaints.services import complaint_diagnosis
from debits.models import DebitAttempt, LateFee
from demo.book import seed_demo_book
from demo.complaints import seed_demo_complaints

pytestmark = pytest.mark.django_db


@pytest.fixture
def book(db):
    seed_demo_book(customers=60, seed=7, password_pool=["946381"])


def test_the_demo_has_complaints_in_each_state_and_the_seed_case(book):
    seeded = seed_demo_complaints()

    states = set(Complaint.objects.values_list("state", flat=True))
    assert states == set(Complaint.State.values)
    assert Complaint.objects.filter(deadline_stage__gt=0).exists()

    case = seeded.seed_case
    assert case is not None and case.state == Complaint.State.INVESTIGATING
    attempt = DebitAttempt.objects.get(instalment__loan__card=case.card, state="failed")
    assert attempt.failure_code == "agreement_stale"
    assert LateFee.objects.get(instalment=attempt.instalment).state == LateFee.State.ACCRUED
    _, diagnosis = complaint_diagnosis(case)
    assert diagnosis.root_cause == RootCause.BANK_SYNC_FAILURE
    assert {r.code for r in diagnosis.remedies} == {"resync", "retry", "waive_fee"}
    assert "through mobile app" in diagnosis.text_en


def test_seed_demo_with_complaints_logs_them_after_the_book(db):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("seed_demo", customers=60, seed=7, complaints=True, stdout=out, verbosity=0)

    assert "complaints" in out.getvalue()
    assert Complaint.objects.filter(state=Complaint.State.CLOSED).exists()
