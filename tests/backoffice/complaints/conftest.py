"""Crafted card histories for the complaint tests."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Card, Channel, PasswordChange, StaffUser
from accounts.roles import Role
from debits.models import DebitAttempt, Instalment, LateFee, Mandate
from tests.factories import (
    CardCredentialFactory,
    DebitAttemptFactory,
    InstalmentFactory,
    MandateFactory,
    MandateSyncFactory,
    StaffUserFactory,
)


@dataclass
class SeedCase:
    """Password change -> re-sync failed -> debit failed stale -> late fee."""

    card: Card
    mandate: Mandate
    instalment: Instalment
    change: PasswordChange
    attempt: DebitAttempt
    fee: LateFee
    resetter: StaffUser | None


def days_ago(days: int, hour: int = 10, minute: int = 0) -> dt.datetime:
    day = timezone.localdate() - dt.timedelta(days=days)
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


def build_seed_case(*, channel: str = Channel.MOBILE_APP, resetter=None) -> SeedCase:
    mandate = MandateFactory()
    card = mandate.card
    CardCredentialFactory(card=card)
    changed_at = days_ago(12, 21, 14)
    card.credential_version = 2
    card.credential_changed_at = changed_at
    card.save(update_fields=["credential_version", "credential_changed_at"])
    change = PasswordChange.objects.create(
        card=card,
        kind="transaction",
        channel=channel,
        actor=resetter,
        credential_version=2,
        changed_at=changed_at,
    )
    for hours in (1, 3):
        MandateSyncFactory(
            mandate=mandate,
            target_credential_version=2,
            requested_at=changed_at + dt.timedelta(hours=hours),
        )
    instalment = InstalmentFactory(
        loan=mandate.loan,
        due_date=timezone.localdate() - dt.timedelta(days=10),
        state=Instalment.State.OVERDUE,
    )
    attempt = DebitAttemptFactory(
        mandate=mandate,
        instalment=instalment,
        attempt_number=1,
        presented_credential_version=1,
        state=DebitAttempt.State.FAILED,
        failure_code="agreement_stale",
        created_at=days_ago(10, 6, 0),
    )
    fee = LateFee.objects.create(
        instalment=instalment,
        amount=Decimal("50.00"),
        accrued_at=days_ago(6, 2, 0),
        cause="agreement_stale",
    )
    return SeedCase(card, mandate, instalment, change, attempt, fee, resetter)


@pytest.fixture
def seed_case(db) -> SeedCase:
    return build_seed_case()


@pytest.fixture
def officer(db) -> StaffUser:
    return StaffUserFactory(role=Role.COMPLAINTS_OFFICER, first_name="Li", last_name="Na")


@pytest.fixture
def supervisor(db) -> StaffUser:
    return StaffUserFactory(role=Role.SUPERVISOR)


@pytest.fixture
def agent(db) -> StaffUser:
    return StaffUserFactory(role=Role.AGENT)
