"""The dashboard's days of collections: counted at the hourly snapshot, recounted
while a day's attempts may still change, read from a few rows afterwards."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from debits.models import DebitAttempt, DebitDayFigures
from debits.operations_selectors import collected_and_failed_per_day, failures_by_code
from debits.services.operations import count_debit_days
from tests.factories import InstalmentFactory, MandateFactory

pytestmark = pytest.mark.django_db


def attempt(*, days_ago: int, state: str, code: str = "") -> DebitAttempt:
    instalment = InstalmentFactory()
    return DebitAttempt.objects.create(
        instalment=instalment,
        mandate=MandateFactory(loan=instalment.loan),
        attempt_number=1,
        idempotency_key=f"day-{instalment.pk}",
        amount=Decimal("10.00"),
        presented_credential_version=1,
        state=state,
        failure_code=code,
        created_at=timezone.now() - dt.timedelta(days=days_ago),
    )


def figures() -> dict:
    return {(f.day, f.state, f.failure_code): f.attempts for f in DebitDayFigures.objects.all()}


def test_each_day_is_counted_by_outcome_and_failure_code():
    today = timezone.localdate()
    attempt(days_ago=0, state="succeeded")
    attempt(days_ago=0, state="succeeded")
    attempt(days_ago=3, state="failed", code="insufficient_funds")
    attempt(days_ago=45, state="failed", code="card_blocked")  # outside the 30 days

    count_debit_days(now=timezone.now())

    assert figures() == {
        (today, "succeeded", ""): 2,
        (today - dt.timedelta(days=3), "failed", "insufficient_funds"): 1,
    }
    since = timezone.now() - dt.timedelta(days=29)
    per_day = collected_and_failed_per_day(since=since)
    assert [(row["day"], row["collected"], row["failed"]) for row in per_day] == [
        (today - dt.timedelta(days=3), 0, 1),
        (today, 2, 0),
    ]
    assert failures_by_code(since=since) == [("insufficient_funds", 1)]


def test_yesterday_is_recounted_when_a_janitor_settles_its_unknown_attempt():
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    unknown = attempt(days_ago=1, state="unknown")
    count_debit_days(now=timezone.now())
    assert figures() == {(yesterday, "unknown", ""): 1}

    DebitAttempt.objects.filter(pk=unknown.pk).update(state="succeeded")
    count_debit_days(now=timezone.now())

    assert figures() == {(yesterday, "succeeded", ""): 1}


def test_an_older_day_once_counted_is_not_read_again():
    day = timezone.localdate() - dt.timedelta(days=5)
    attempt(days_ago=5, state="failed", code="insufficient_funds")
    count_debit_days(now=timezone.now())
    DebitAttempt.objects.update(failure_code="card_blocked")

    counted = count_debit_days(now=timezone.now())

    assert day not in counted
    assert figures() == {(day, "failed", "insufficient_funds"): 1}
