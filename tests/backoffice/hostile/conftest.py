"""What the hostile-input tests share: a hypothesis profile sized for CI, a small
book to aim at, and a fingerprint of every table the product writes.

The profile is ``hostile-ci`` (sized for two busy cores) unless
``HOSTILE_INPUT_PROFILE=hostile-thorough`` asks for many more inputs per target.
The profile is applied to these tests only (``generated``), never loaded as
the session's default, so other property-based tests keep their own settings.
"""

import datetime as dt
import os
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.apps import apps
from django.db import connection
from django.test import Client
from hypothesis import HealthCheck, settings

from tests.backoffice.hostile.cases import tried

_COMMON = {
    "deadline": None,
    # The examples of one test share its database transaction and signed-in client.
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    # No example database on disk; a CI run is the same run every time.
    "database": None,
    "derandomize": True,
    "print_blob": True,
}
settings.register_profile("hostile-ci", max_examples=6, **_COMMON)
settings.register_profile("hostile-thorough", max_examples=300, **_COMMON)
PROFILE = settings.get_profile(os.environ.get("HOSTILE_INPUT_PROFILE", "hostile-ci"))


def generated(scale: float = 1.0) -> settings:
    """The profile's settings for one target, ``scale`` times its number of examples."""
    return settings(PROFILE, max_examples=max(1, round(PROFILE.max_examples * scale)))


# The apps whose tables a hostile request must leave as they were. The audit
# trail is not among them: reading an export or failing a sign-in is recorded.
_CHECKED_APPS = ("accounts", "debits", "simulator", "django_celery_beat", "auth", "otp_totp")
_NOT_CHECKED = {"accounts.auditevent"}


def _checked_tables() -> list[str]:
    return sorted(
        model._meta.db_table
        for app in _CHECKED_APPS
        for model in apps.get_app_config(app).get_models()
        if model._meta.label_lower not in _NOT_CHECKED
    )


def table_fingerprint() -> dict[str, tuple[int, str]]:
    """Per table, its row count and an md5 of all its rows, in one query."""
    tables = _checked_tables()
    # Table names come from the models, never from input.
    sql = " UNION ALL ".join(
        f"SELECT '{t}', count(*), md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) "  # noqa: S608
        f'FROM "{t}" x'
        for t in tables
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return {name: (count, digest) for name, count, digest in cursor.fetchall()}


class Unchanged:
    """``with unchanged(target): ...`` tries one input and checks nothing was written."""

    def __init__(self, target: str, *, expect_unchanged: bool = True):
        self.target, self.expect_unchanged = target, expect_unchanged

    def __enter__(self):
        tried(self.target)
        self.before = table_fingerprint()
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None and self.expect_unchanged:
            after = table_fingerprint()
            changed = sorted(t for t in after if after[t] != self.before[t])
            assert not changed, f"{self.target}: tables written by a refused input: {changed}"
        return False


def assert_clear_answer(response, target: str, *allowed: int):
    """A 500 would have raised in the test client; any other 5xx, or an answer
    outside ``allowed``, is not a clear one either."""
    assert response.status_code < 500, f"{target}: {response.status_code}"
    if allowed:
        assert response.status_code in allowed, f"{target}: {response.status_code}"
    if getattr(response, "streaming", False):
        b"".join(response.streaming_content)


@dataclass
class Book:
    """A small book to aim hostile input at: two customers' cards, a mandate, an
    instalment with a failed attempt and an accrued late fee, an open pause."""

    staff: object
    card: object
    other_card: object
    mandate: object
    attempt: object
    fee: object
    pause: object


@pytest.fixture
def book(db) -> Book:
    from debits.models import CollectionPause, DebitAttempt, DebitRun, LateFee
    from tests.factories import (
        CardCredentialFactory,
        InstalmentFactory,
        MandateFactory,
        StaffUserFactory,
    )

    staff = StaffUserFactory(is_superuser=True, password=None)
    card = CardCredentialFactory().card
    other_card = CardCredentialFactory().card
    mandate = MandateFactory(loan__card=card)
    instalment = InstalmentFactory(loan=mandate.loan, due_date=dt.date.today() - dt.timedelta(9))
    run = DebitRun.objects.create(run_date=dt.date.today(), kind=DebitRun.Kind.MANUAL)
    attempt = DebitAttempt.objects.create(
        instalment=instalment,
        mandate=mandate,
        run=run,
        attempt_number=1,
        idempotency_key="hostile-1",
        amount=instalment.amount_due,
        presented_credential_version=1,
        state=DebitAttempt.State.FAILED,
        failure_code="insufficient_funds",
    )
    fee = LateFee.objects.create(instalment=instalment, amount=Decimal("50.00"))
    pause = CollectionPause.objects.create(
        scope=CollectionPause.Scope.CARD, card=other_card, reason="dispute", paused_by=staff
    )
    return Book(staff, card, other_card, mandate, attempt, fee, pause)


@pytest.fixture
def staff_client(book) -> Client:
    from tests.conftest import sign_in_verified

    return sign_in_verified(Client(), book.staff)
