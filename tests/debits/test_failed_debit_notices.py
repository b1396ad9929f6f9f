"""What the customer is told when a debit fails: nothing while the bank will try again
today, the reason and the next day when it will not."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import CustomerNotice
from debits.models import DebitAttempt, DebitRun
from debits.notices import FailedDebit, tell_failed_debits
from debits.services import run_debit_job
from simulator.faults import script_fault
from tests.debit_helpers import due_instalment, eager_celery

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery", "collect_path")]

__all__ = ["eager_celery"]


def _run(capture, kind=DebitRun.Kind.SCHEDULED) -> None:
    with capture(execute=True):
        run_debit_job(on_date=timezone.localdate(), kind=kind)


def _failure_notices():
    return CustomerNotice.objects.filter(topic=CustomerNotice.Topic.DEBIT_FAILED)


def test_a_network_outage_retried_today_tells_the_customer_nothing(
    django_capture_on_commit_callbacks,
):
    _, mandate = due_instalment()
    script_fault(mandate_reference=mandate.reference, outcome="unavailable")

    _run(django_capture_on_commit_callbacks)

    attempt = DebitAttempt.objects.get()
    assert attempt.failure_code == "gateway_unavailable"
    assert attempt.next_retry_on == timezone.localdate()
    assert not _failure_notices().exists()


def test_the_customers_own_failure_is_told_with_the_next_try(django_capture_on_commit_callbacks):
    _, mandate = due_instalment()
    script_fault(mandate_reference=mandate.reference, outcome="insufficient_funds")

    _run(django_capture_on_commit_callbacks)

    attempt = DebitAttempt.objects.get()
    [notice] = _failure_notices()
    assert notice.card_id == mandate.card_id
    assert f"{attempt.next_retry_on:%Y-%m-%d}" in notice.body
    assert "no late fee" not in notice.body


def test_when_the_bank_will_not_try_again_today_a_bank_side_failure_is_told_without_a_fee():
    instalment, mandate = due_instalment()
    today = timezone.localdate()
    tomorrow = today + dt.timedelta(days=1)
    amount = Decimal("1200.00")

    tell_failed_debits(
        [FailedDebit(mandate.pk, instalment.pk, amount, "not_received", True, today)]
    )
    assert not _failure_notices().exists()

    tell_failed_debits(
        [FailedDebit(mandate.pk, instalment.pk, amount, "not_received", True, tomorrow)]
    )
    [notice] = _failure_notices()
    assert f"{tomorrow:%Y-%m-%d}" in notice.body
    assert "no late fee will be charged" in notice.body


def test_a_failure_only_staff_may_retry_is_told_at_once():
    instalment, mandate = due_instalment()

    tell_failed_debits(
        [FailedDebit(mandate.pk, instalment.pk, Decimal("80.00"), "account_closed", False, None)]
    )

    [notice] = _failure_notices()
    assert "We will contact you" in notice.body
