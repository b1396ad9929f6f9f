"""Staff's "retry selected": when an attempt is not retried, the page says why, per attempt."""

import datetime as dt
import re

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from debits.models import DebitAttempt, DebitRun, Mandate
from debits.selectors import attempts_not_retried
from debits.services import pause_collection, retry_debit_attempts, run_debit_job
from simulator.faults import script_fault
from tests.conftest import sign_in_verified
from tests.debit_helpers import bank_day, due_instalment, eager_celery
from tests.factories import StaffUserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]

__all__ = ["eager_celery"]


def _failed_attempt(dj, *, due_date: dt.date) -> DebitAttempt:
    instalment, mandate = due_instalment(due_date=due_date)
    script_fault(mandate_reference=mandate.reference, outcome="insufficient_funds")
    with bank_day(due_date), dj(execute=True):
        run_debit_job(on_date=due_date, kind=DebitRun.Kind.MANUAL, instalment_ids=[instalment.pk])
    return DebitAttempt.objects.get(instalment=instalment, state="failed")


def test_a_retry_of_an_instalment_not_yet_due_says_when_it_will_be_collected(
    django_capture_on_commit_callbacks,
):
    # Collected before its due date by an earlier run, and failed.
    due = timezone.localdate() + dt.timedelta(days=5)
    early = _failed_attempt(django_capture_on_commit_callbacks, due_date=due)
    operations = StaffUserFactory(role=Role.OPERATIONS.value)

    with django_capture_on_commit_callbacks(execute=True):
        run = retry_debit_attempts(attempts=[early], actor=operations)

    assert run.selected_count == 0
    [why] = attempts_not_retried(run=run, attempt_ids=[early.pk])
    assert (why.attempt_id, why.reason) == (early.pk, "not_due_yet")
    assert due.isoformat() in why.detail


def test_the_retry_page_names_each_attempt_not_retried_and_its_reason(
    django_capture_on_commit_callbacks,
):
    today = timezone.localdate()
    early = _failed_attempt(django_capture_on_commit_callbacks, due_date=today + dt.timedelta(3))
    paused = _failed_attempt(django_capture_on_commit_callbacks, due_date=today)
    operations = StaffUserFactory(role=Role.OPERATIONS.value)
    pause_collection(
        scope="card", card=paused.mandate.card, reason="Fraud review", actor=operations
    )
    client = sign_in_verified(Client(), operations)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("collection:retry_attempts"), {"attempt": [early.pk, paused.pk]}
        )

    texts = [str(m) for m in get_messages(response.wsgi_request)]
    assert not any("0 instalment(s) to collect" in text for text in texts)
    assert any("collects nothing" in text for text in texts)
    assert any(
        "not due yet" in text and f"#{early.pk}" in text and str(early.instalment.due_date) in text
        for text in texts
    ), texts
    assert any(
        "paused for the card" in text and "Fraud review" in text and f"#{paused.pk}" in text
        for text in texts
    ), texts


def test_a_retry_of_only_unsettled_attempts_says_they_settle_first():
    instalment, mandate = due_instalment()
    unknown = DebitAttempt.objects.create(
        instalment=instalment,
        mandate=mandate,
        attempt_number=1,
        amount=instalment.amount_due,
        idempotency_key=f"inst-{instalment.pk}-1",
        presented_credential_version=mandate.synced_credential_version,
        state=DebitAttempt.State.UNKNOWN,
    )
    client = sign_in_verified(Client(), StaffUserFactory(role=Role.OPERATIONS.value))

    response = client.post(reverse("collection:retry_attempts"), {"attempt": [unknown.pk]})

    texts = [str(m) for m in get_messages(response.wsgi_request)]
    assert any(
        "only a failed attempt can be retried" in t.lower() and f"#{unknown.pk}" in t for t in texts
    )


def test_in_chinese_a_retry_held_back_by_the_mandate_says_why_in_chinese(
    django_capture_on_commit_callbacks,
):
    attempt = _failed_attempt(django_capture_on_commit_callbacks, due_date=timezone.localdate())
    starts = timezone.localdate() + dt.timedelta(days=10)
    Mandate.objects.filter(pk=attempt.mandate_id).update(valid_from=starts)
    operations = StaffUserFactory(role=Role.OPERATIONS.value, language="zh-hans")
    client = sign_in_verified(Client(), operations)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("collection:retry_attempts"), {"attempt": [attempt.pk]})

    [line] = [str(m) for m in get_messages(response.wsgi_request) if "未重试" in str(m)]
    assert starts.isoformat() in line and f"#{attempt.pk}" in line
    assert not re.search(r"[A-Za-z]", line), line
