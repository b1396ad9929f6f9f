"""Late fees: after the grace period, once per instalment, waived exactly when the bank
caused the late payment; staff waivers and their approval above the threshold."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import AuditEvent
from accounts.roles import Role
from debits.models import DebitAttempt, DebitRun, Instalment, LateFee, Mandate, MandateSync
from debits.services import (
    FeeWaiverError,
    accrue_late_fees,
    approve_fee_waiver,
    pause_collection,
    run_debit_job,
    waive_late_fee,
)
from simulator.faults import script_fault
from simulator.models import SimulatedFault
from tests.debit_helpers import due_instalment, eager_celery
from tests.factories import StaffUserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]

__all__ = ["eager_celery"]


@pytest.fixture(autouse=True)
def _fee_settings(settings):
    settings.LATE_FEE_GRACE_DAYS = 3
    settings.LATE_FEE_AMOUNT = Decimal("50.00")
    settings.LATE_FEE_RATE = Decimal("0")
    settings.LATE_FEE_WAIVER_APPROVAL_THRESHOLD = Decimal("200.00")


def _late_instalment(days_late=5):
    return due_instalment(due_date=timezone.localdate() - dt.timedelta(days=days_late))


def _collect(django_capture_on_commit_callbacks, on_date):
    with django_capture_on_commit_callbacks(execute=True):
        return run_debit_job(on_date=on_date, kind=DebitRun.Kind.MANUAL)


def test_a_fee_accrues_once_after_the_grace_period_and_marks_the_instalment_overdue():
    late, _ = _late_instalment(days_late=4)
    in_grace, _ = _late_instalment(days_late=3)

    first = accrue_late_fees(on_date=timezone.localdate())
    second = accrue_late_fees(on_date=timezone.localdate())

    fee = LateFee.objects.get()
    assert fee.instalment_id == late.pk
    assert (fee.amount, fee.state, fee.cause) == (Decimal("50.00"), "accrued", "not_collected")
    assert (first["accrued"], second["accrued"]) == (1, 0)
    late.refresh_from_db()
    in_grace.refresh_from_db()
    assert late.state == Instalment.State.OVERDUE
    assert in_grace.state == Instalment.State.DUE


def test_the_fee_amount_is_a_fixed_amount_plus_a_rate_of_what_is_outstanding(settings):
    settings.LATE_FEE_RATE = Decimal("0.01")
    late, _ = _late_instalment()
    accrue_late_fees(on_date=timezone.localdate())
    expected = (Decimal("50.00") + late.amount_due / 100).quantize(Decimal("0.01"))
    assert LateFee.objects.get().amount == expected


def _stale_then_unpaid(instalment, mandate, dj):
    # A password change that never reached the network: the network refuses the
    # agreement, and re-sync keeps failing.
    Mandate.objects.filter(pk=mandate.pk).update(gateway_agreement_token="agr-old")
    script_fault(
        mandate_reference=mandate.reference,
        outcome=SimulatedFault.Outcome.BIND_UNAVAILABLE,
        times=None,
    )
    _collect(dj, instalment.due_date)


def _outage(instalment, mandate, dj):
    script_fault(
        mandate_reference=mandate.reference, outcome=SimulatedFault.Outcome.UNAVAILABLE, times=None
    )
    _collect(dj, instalment.due_date)


def _timeout(instalment, mandate, dj):
    script_fault(
        mandate_reference=mandate.reference,
        outcome=SimulatedFault.Outcome.TIMEOUT_BEFORE_COLLECT,
    )
    _collect(dj, instalment.due_date)


def _failed_resync(instalment, mandate, dj):
    MandateSync.objects.create(
        mandate=mandate,
        target_credential_version=2,
        trigger=MandateSync.Trigger.CREDENTIAL_CHANGE,
        outcome=MandateSync.Outcome.FAILED,
        error_code="gateway_unavailable",
    )


def _out_of_sync(instalment, mandate, dj):
    from accounts.models import Card

    Card.objects.filter(pk=mandate.card_id).update(credential_version=2)
    script_fault(
        mandate_reference=mandate.reference,
        outcome=SimulatedFault.Outcome.BIND_UNAVAILABLE,
        times=None,
    )
    _collect(dj, instalment.due_date)


def _paused(instalment, mandate, dj):
    pause_collection(
        scope="mandate",
        mandate=mandate,
        reason="Migration of the collection account",
        actor=StaffUserFactory(role=Role.OPERATIONS.value),
    )
    _collect(dj, instalment.due_date)


def _insufficient_funds(instalment, mandate, dj):
    script_fault(
        mandate_reference=mandate.reference,
        outcome=SimulatedFault.Outcome.INSUFFICIENT_FUNDS,
        times=None,
    )
    _collect(dj, instalment.due_date)


def _account_closed(instalment, mandate, dj):
    script_fault(mandate_reference=mandate.reference, outcome=SimulatedFault.Outcome.ACCOUNT_CLOSED)
    _collect(dj, instalment.due_date)


def _mandate_pending(instalment, mandate, dj):
    Mandate.objects.filter(pk=mandate.pk).update(state=Mandate.State.PENDING)
    _collect(dj, instalment.due_date)


# why the instalment is late → (waived automatically?, cause recorded on the fee)
CAUSES = {
    _stale_then_unpaid: (True, "agreement_stale"),
    _outage: (True, "gateway_unavailable"),
    _timeout: (True, "timeout"),
    _failed_resync: (True, "resync_failed"),
    _out_of_sync: (True, "resync_failed"),
    _paused: (True, "collection_paused_mandate"),
    _insufficient_funds: (False, "insufficient_funds"),
    _account_closed: (False, "account_closed"),
    _mandate_pending: (False, "mandate_pending"),
}


@pytest.mark.parametrize("cause", list(CAUSES), ids=lambda f: f.__name__.strip("_"))
def test_a_fee_is_waived_automatically_exactly_when_the_bank_caused_the_late_payment(
    cause, django_capture_on_commit_callbacks
):
    instalment, mandate = _late_instalment()
    cause(instalment, mandate, django_capture_on_commit_callbacks)
    instalment.refresh_from_db()
    assert instalment.state != Instalment.State.PAID

    accrue_late_fees(on_date=timezone.localdate())

    waived, recorded_cause = CAUSES[cause]
    fee = LateFee.objects.get(instalment=instalment)
    assert fee.cause == recorded_cause
    assert (fee.state == LateFee.State.WAIVED) is waived
    audited = AuditEvent.objects.filter(
        action="late_fee.waived_automatically", object_id=str(fee.pk)
    ).exists()
    assert audited is waived
    if waived:
        assert recorded_cause in fee.waiver_reason and fee.waived_at is not None
    else:
        assert fee.waiver_reason == "" and fee.waived_at is None


def test_staff_waive_a_small_fee_with_a_reason():
    instalment, _ = _late_instalment()
    accrue_late_fees(on_date=timezone.localdate())
    fee = LateFee.objects.get()
    officer = StaffUserFactory(role=Role.COMPLAINTS_OFFICER.value)

    with pytest.raises(FeeWaiverError):
        waive_late_fee(fee=fee, reason="  ", actor=officer)
    waive_late_fee(fee=fee, reason="Customer was in hospital", actor=officer)

    fee.refresh_from_db()
    assert fee.state == LateFee.State.WAIVED
    assert fee.waiver_requested_by == officer
    assert AuditEvent.objects.filter(action="late_fee.waived", actor=officer).exists()
    with pytest.raises(FeeWaiverError):
        waive_late_fee(fee=fee, reason="again", actor=officer)


def test_a_waiver_above_the_threshold_needs_another_supervisors_approval(settings):
    settings.LATE_FEE_AMOUNT = Decimal("500.00")
    _late_instalment()
    accrue_late_fees(on_date=timezone.localdate())
    fee = LateFee.objects.get()
    requester = StaffUserFactory(role=Role.SUPERVISOR.value)
    approver = StaffUserFactory(role=Role.SUPERVISOR.value)

    waive_late_fee(fee=fee, reason="Goodwill after complaint", actor=requester)
    fee.refresh_from_db()
    assert fee.state == LateFee.State.WAIVER_PENDING

    with pytest.raises(FeeWaiverError):
        approve_fee_waiver(fee=fee, approver=requester)
    with pytest.raises(FeeWaiverError):
        approve_fee_waiver(fee=fee, approver=StaffUserFactory(role=Role.OPERATIONS.value))
    approve_fee_waiver(fee=fee, approver=approver)

    fee.refresh_from_db()
    assert (fee.state, fee.waiver_approved_by) == (LateFee.State.WAIVED, approver)


def test_an_agent_may_not_waive_a_fee():
    _late_instalment()
    accrue_late_fees(on_date=timezone.localdate())
    with pytest.raises(FeeWaiverError):
        waive_late_fee(
            fee=LateFee.objects.get(),
            reason="x",
            actor=StaffUserFactory(role=Role.AGENT.value),
        )


def test_a_paid_instalment_accrues_no_fee(django_capture_on_commit_callbacks):
    instalment, _ = _late_instalment()
    _collect(django_capture_on_commit_callbacks, timezone.localdate())
    assert DebitAttempt.objects.get().state == "succeeded"
    accrue_late_fees(on_date=timezone.localdate())
    assert not LateFee.objects.exists()
