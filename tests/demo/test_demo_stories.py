"""The demo tells its stories: one customer per case, each with the rows staff would see."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from accounts.audit_actions import AuditAction
from accounts.models import AuditEvent
from backoffice.complaints.models import Complaint
from debits.models import Alert, DebitAttempt, Instalment, LateFee, Mandate
from demo.book import seed_demo_book
from demo.stories import WAIVER_REASON, seed_demo_stories

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_fee_rule(settings):
    # scripts/demo's fee rule: 5% of the overdue amount on top of the fixed fee.
    settings.LATE_FEE_RATE = Decimal("0.05")


@pytest.fixture
def stories(db, demo_fee_rule):
    seed_demo_book(customers=80, seed=7, password_pool=["946381"])
    return seed_demo_stories()


def _attempts(customer):
    return list(
        DebitAttempt.objects.filter(instalment__loan__card__customer=customer).order_by(
            "attempt_number"
        )
    )


def test_the_password_change_whose_resync_failed_left_a_stale_debit_a_fee_and_an_alert(stories):
    customer = stories.stale_after_password_change
    assert customer is not None
    [attempt] = _attempts(customer)
    assert attempt.state == "failed" and attempt.failure_code == "agreement_stale"
    assert LateFee.objects.get(instalment=attempt.instalment).cause == "agreement_stale"
    mandate = Mandate.objects.with_sync_state().get(pk=attempt.mandate_id)
    assert not mandate.synced_with_card and mandate.sync_failed_at is not None
    alert = Alert.objects.get(mandate=mandate, kind=Alert.Kind.RESYNC_FAILED)
    assert alert.resolved_at is None
    assert AuditEvent.objects.filter(
        action=AuditAction.MANDATE_SYNC_FAILED, object_id=str(mandate.pk)
    ).exists()


def test_the_outage_failed_the_debit_and_its_late_fee_was_waived_automatically(stories):
    attempts = _attempts(stories.outage_fee_waived)
    assert [a.failure_code for a in attempts] == ["gateway_unavailable", "gateway_unavailable"]
    fee = LateFee.objects.get(instalment=attempts[0].instalment)
    assert fee.state == LateFee.State.WAIVED and fee.cause == "gateway_unavailable"
    assert AuditEvent.objects.filter(
        action=AuditAction.LATE_FEE_WAIVED_AUTOMATICALLY, object_id=str(fee.pk)
    ).exists()


def test_the_customer_out_of_funds_was_retried_on_schedule_and_charged_a_fee(stories):
    attempts = _attempts(stories.out_of_funds)
    assert [a.failure_code for a in attempts] == ["insufficient_funds"] * 3
    tried = [a.created_at.date() for a in attempts]
    assert [(b - a).days for a, b in zip(tried, tried[1:], strict=False)] == [1, 3]
    assert attempts[-1].next_retry_on is not None
    instalment = Instalment.objects.get(pk=attempts[0].instalment_id)
    assert instalment.state == Instalment.State.OVERDUE
    assert instalment.late_fee.cause == "insufficient_funds"


def test_a_waiver_above_the_threshold_awaits_a_supervisor(stories, settings):
    assert stories.waiver_awaiting_approval == stories.out_of_funds
    fee = LateFee.objects.get(instalment__loan__card__customer=stories.out_of_funds)
    assert fee.state == LateFee.State.WAIVER_PENDING and fee.waiver_reason == WAIVER_REASON
    assert fee.amount > settings.LATE_FEE_WAIVER_APPROVAL_THRESHOLD
    assert fee.waiver_requested_by.groups.filter(name="complaints officer").exists()
    assert AuditEvent.objects.filter(
        action=AuditAction.LATE_FEE_WAIVER_REQUESTED, object_id=str(fee.pk)
    ).exists()


def test_every_open_complaint_state_is_in_the_demo(stories):
    open_states = set(
        Complaint.objects.exclude(state=Complaint.State.CLOSED).values_list("state", flat=True)
    )
    assert open_states == set(Complaint.State.values) - {Complaint.State.CLOSED}
    assert Complaint.objects.filter(state=Complaint.State.CLOSED).exists()


def test_each_story_has_a_customer_of_its_own(stories):
    told = [
        stories.stale_after_password_change,
        stories.outage_fee_waived,
        stories.out_of_funds,
    ]
    assert None not in told and len({c.pk for c in told}) == 3


def _book() -> tuple:
    return (
        list(DebitAttempt.objects.order_by("idempotency_key").values_list("idempotency_key")),
        list(LateFee.objects.order_by("pk").values_list("instalment_id", "state", "amount")),
        list(Complaint.objects.order_by("pk").values_list("customer_id", "state")),
        list(Alert.objects.order_by("pk").values_list("kind", "resolved_at", "occurrences")),
        AuditEvent.objects.count(),
    )


def test_running_the_demo_twice_gives_the_same_book(db, demo_fee_rule):
    def demo() -> str:
        out = StringIO()
        call_command(
            "seed_demo", customers=80, seed=7, if_empty=True, stories=True, stdout=out, verbosity=0
        )
        return out.getvalue()

    first = demo()
    after_first = _book()
    second = demo()

    assert "already exists" in second and "waiver awaiting approval" in second
    assert _book() == after_first
    assert "out of funds" in first
