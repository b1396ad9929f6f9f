"""One-click remedies call the debit services; the repair promise's clock and its proposal."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.audit_actions import AuditAction
from accounts.models import AuditEvent
from backoffice.complaints.models import Compensation, RepairPromise
from backoffice.complaints.services import (
    ComplaintError,
    apply_remedy,
    confirm_compensation_proposal,
    log_complaint,
    review_repair_promise,
)
from debits.models import DebitRun, LateFee, MandateSync
from tests.debit_helpers import eager_celery

pytestmark = pytest.mark.django_db

__all__ = ["eager_celery"]


def complain(case, actor):
    return log_complaint(
        customer=case.card.customer,
        card=case.card,
        category="debit_failed_after_password_change",
        channel="phone",
        description="My debit failed after I changed my password.",
        actor=actor,
    )


def test_waive_the_fee_calls_the_fee_service_and_is_audited_on_the_complaint(seed_case, officer):
    complaint = complain(seed_case, officer)

    result = apply_remedy(
        complaint=complaint, code="waive_fee", target_id=seed_case.fee.pk, actor=officer
    )

    seed_case.fee.refresh_from_db()
    assert seed_case.fee.state == LateFee.State.WAIVED
    assert "waived" in result.lower()
    assert AuditEvent.objects.filter(action="late_fee.waived", actor=officer).exists()
    applied = AuditEvent.objects.get(action=AuditAction.COMPLAINT_REMEDY_APPLIED)
    assert applied.actor == officer and applied.summary["remedy"] == "waive_fee"
    recorded = Compensation.objects.get(complaint=complaint)
    assert recorded.kind == Compensation.Kind.FEE_WAIVER and recorded.amount == Decimal("50.00")


def test_a_remedy_is_refused_once_the_facts_no_longer_support_it(seed_case, officer):
    complaint = complain(seed_case, officer)
    apply_remedy(complaint=complaint, code="waive_fee", target_id=seed_case.fee.pk, actor=officer)

    with pytest.raises(ComplaintError, match="does not support"):
        apply_remedy(
            complaint=complaint, code="waive_fee", target_id=seed_case.fee.pk, actor=officer
        )


def test_resync_now_binds_the_mandate_to_the_new_password(seed_case, officer):
    complaint = complain(seed_case, officer)

    apply_remedy(complaint=complaint, code="resync", target_id=seed_case.mandate.pk, actor=officer)

    seed_case.mandate.refresh_from_db()
    assert seed_case.mandate.synced_credential_version == 2
    sync = MandateSync.objects.filter(requested_by=officer).get()
    assert sync.outcome == MandateSync.Outcome.SUCCEEDED


@pytest.mark.usefixtures("eager_celery")
def test_retry_now_starts_a_manual_run_for_the_failed_instalment(seed_case, officer):
    complaint = complain(seed_case, officer)

    apply_remedy(complaint=complaint, code="retry", target_id=seed_case.attempt.pk, actor=officer)

    run = DebitRun.objects.get(kind=DebitRun.Kind.MANUAL)
    assert run.requested_by == officer
    assert AuditEvent.objects.filter(action="debit_attempt.retry_requested", actor=officer).exists()


def test_an_agent_cannot_apply_a_remedy(seed_case, agent):
    complaint = complain(seed_case, agent)
    with pytest.raises(ComplaintError, match="permission"):
        apply_remedy(complaint=complaint, code="waive_fee", target_id=seed_case.fee.pk, actor=agent)


def test_a_bank_side_cause_starts_the_repair_clock_from_the_failed_debit(
    seed_case, officer, settings
):
    settings.REPAIR_PROMISE_HOURS = 24
    complaint = complain(seed_case, officer)

    promise = RepairPromise.objects.get(complaint=complaint)
    assert promise.failed_at == seed_case.attempt.finished_at
    assert promise.repair_due_at == promise.failed_at + dt.timedelta(hours=24)
    assert promise.state == RepairPromise.State.RUNNING


def test_a_late_repair_proposes_compensation_per_day_for_the_officer_to_confirm(
    seed_case, officer, settings
):
    settings.REPAIR_PROMISE_HOURS = 24
    settings.REPAIR_PROMISE_YUAN_PER_DAY = Decimal("20.00")
    settings.COMPENSATION_APPROVAL_THRESHOLD = Decimal("200.00")
    complaint = complain(seed_case, officer)
    promise = RepairPromise.objects.get(complaint=complaint)
    # Repaired three and a half days after the failure: two and a half days late.
    repaired = promise.failed_at + dt.timedelta(days=3, hours=12)
    MandateSync.objects.create(
        mandate=seed_case.mandate,
        target_credential_version=2,
        trigger="manual",
        outcome="succeeded",
        requested_at=repaired,
        finished_at=repaired,
    )

    promise = review_repair_promise(promise=promise)

    assert promise.state == RepairPromise.State.BROKEN
    assert promise.repaired_at == repaired
    proposal = promise.compensation
    assert proposal.state == Compensation.State.PROPOSED
    assert proposal.kind == Compensation.Kind.REPAIR_DELAY
    assert proposal.amount == Decimal("60.00") and proposal.requested_by is None
    assert AuditEvent.objects.filter(action=AuditAction.REPAIR_PROMISE_BROKEN).exists()

    confirmed = confirm_compensation_proposal(compensation=proposal, actor=officer)
    assert confirmed.state == Compensation.State.APPROVED
    assert confirmed.requested_by == officer


def test_a_repair_in_time_keeps_the_promise_and_proposes_nothing(seed_case, officer):
    complaint = complain(seed_case, officer)
    promise = RepairPromise.objects.get(complaint=complaint)
    repaired = promise.failed_at + dt.timedelta(hours=2)
    MandateSync.objects.create(
        mandate=seed_case.mandate,
        target_credential_version=2,
        trigger="manual",
        outcome="succeeded",
        requested_at=repaired,
        finished_at=repaired,
    )

    promise = review_repair_promise(promise=promise)

    assert promise.state == RepairPromise.State.KEPT
    assert not Compensation.objects.exists()


def test_a_customers_own_failure_starts_no_clock(officer):
    from tests.factories import DebitAttemptFactory

    attempt = DebitAttemptFactory(
        state="failed", failure_code="insufficient_funds", created_at=timezone.now()
    )
    log_complaint(
        customer=attempt.mandate.card.customer,
        card=attempt.mandate.card,
        category="other",
        channel="app",
        description="Why did my debit fail?",
        actor=officer,
    )
    assert not RepairPromise.objects.exists()
