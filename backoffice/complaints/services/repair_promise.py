"""The bank's repair promise: a failure the bank caused is repaired in time, or compensated.

The clock starts at the failed debit when the diagnosis names a bank-side
cause (a stale agreement, an outage). The repair is read from the facts: the
first successful re-sync of the mandate (stale agreement) or the first
successful debit of the instalment (outage). A late repair creates a
compensation proposal (yuan per day of delay) for the officer to confirm.
"""

from __future__ import annotations

import datetime as dt
import math

from django.conf import settings
from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from accounts.audit import record_audit_event
from accounts.audit_actions import AuditAction
from backoffice.complaints.models import Compensation, Complaint, RepairPromise, RootCause
from debits.models import DebitAttempt, MandateSync


def start_repair_clock(*, complaint: Complaint, diagnosis) -> RepairPromise | None:
    """Start the clock for a bank-side cause with a failed debit; once per complaint."""
    attempt = diagnosis.failed_attempt
    if not diagnosis.bank_side or attempt is None:
        return None
    failed_at = attempt.finished_at or attempt.created_at
    promise, created = RepairPromise.objects.get_or_create(
        complaint=complaint,
        defaults={
            "root_cause": diagnosis.root_cause,
            "failed_attempt": attempt,
            "failed_at": failed_at,
            "repair_due_at": failed_at + dt.timedelta(hours=settings.REPAIR_PROMISE_HOURS),
        },
    )
    if created:
        record_audit_event(
            actor=None,
            action=AuditAction.REPAIR_PROMISE_STARTED,
            target=promise,
            summary={
                "complaint": complaint.pk,
                "root_cause": diagnosis.root_cause,
                "repair_due_at": promise.repair_due_at.isoformat(),
            },
        )
    return promise


def repaired_at(promise: RepairPromise) -> dt.datetime | None:
    """When the facts show the failure repaired (None: not yet)."""
    attempt = promise.failed_attempt
    if promise.root_cause == RootCause.BANK_SYNC_FAILURE:
        return MandateSync.objects.filter(
            mandate_id=attempt.mandate_id,
            outcome=MandateSync.Outcome.SUCCEEDED,
            finished_at__gte=promise.failed_at,
        ).aggregate(first=Min("finished_at"))["first"]
    return DebitAttempt.objects.filter(
        instalment_id=attempt.instalment_id,
        state=DebitAttempt.State.SUCCEEDED,
        finished_at__gte=promise.failed_at,
    ).aggregate(first=Min("finished_at"))["first"]


def delay_compensation_amount(days_late: int):
    return settings.REPAIR_PROMISE_YUAN_PER_DAY * max(1, days_late)


def _days_late(promise: RepairPromise, until: dt.datetime) -> int:
    return math.ceil((until - promise.repair_due_at) / dt.timedelta(days=1))


@transaction.atomic
def review_repair_promise(
    *, promise: RepairPromise, now: dt.datetime | None = None
) -> RepairPromise:
    """Settle the promise from the facts; a late repair gets a compensation proposal.

    While the failure stays unrepaired past its due time, the proposal's amount
    follows the days of delay until an officer confirms it.
    """
    now = now or timezone.now()
    locked = (
        RepairPromise.objects.select_for_update()
        .select_related("failed_attempt")
        .get(pk=promise.pk)
    )
    if locked.state == RepairPromise.State.KEPT:
        return locked
    repaired = repaired_at(locked)
    if repaired is not None and repaired <= locked.repair_due_at:
        locked.state = RepairPromise.State.KEPT
        locked.repaired_at = repaired
        locked.save(update_fields=["state", "repaired_at"])
        record_audit_event(
            actor=None,
            action=AuditAction.REPAIR_PROMISE_KEPT,
            target=locked,
            summary={"repaired_at": repaired.isoformat()},
        )
        return locked
    if repaired is None and now <= locked.repair_due_at:
        return locked
    days = _days_late(locked, repaired or now)
    amount = delay_compensation_amount(days)
    newly_broken = locked.state != RepairPromise.State.BROKEN
    locked.state = RepairPromise.State.BROKEN
    locked.repaired_at = repaired
    if locked.compensation_id is None:
        locked.compensation = Compensation.objects.create(
            complaint_id=locked.complaint_id,
            kind=Compensation.Kind.REPAIR_DELAY,
            amount=amount,
            reason=(
                f"The bank repaired its failure {days} day(s) after the promised "
                f"{settings.REPAIR_PROMISE_HOURS} hours"
                if repaired
                else f"The bank's failure is still not repaired {days} day(s) after its promise"
            ),
            state=Compensation.State.PROPOSED,
            debit_attempt_id=locked.failed_attempt_id,
        )
        record_audit_event(
            actor=None,
            action=AuditAction.COMPENSATION_PROPOSED,
            target=locked.compensation,
            summary={"complaint": locked.complaint_id, "amount": str(amount), "days": days},
        )
    else:
        Compensation.objects.filter(
            pk=locked.compensation_id, state=Compensation.State.PROPOSED
        ).update(amount=amount)
    locked.save(update_fields=["state", "repaired_at", "compensation"])
    if newly_broken:
        record_audit_event(
            actor=None,
            action=AuditAction.REPAIR_PROMISE_BROKEN,
            target=locked,
            summary={"days_late": days, "repaired": repaired is not None},
        )
    return locked


def review_open_repair_promises(*, now: dt.datetime | None = None) -> int:
    """The beat task's pass: every promise still running, or broken and not yet repaired."""
    open_ids = list(
        RepairPromise.objects.filter(
            state__in=[RepairPromise.State.RUNNING, RepairPromise.State.BROKEN],
            repaired_at__isnull=True,
        ).values_list("pk", flat=True)
    )
    for pk in open_ids:
        review_repair_promise(promise=RepairPromise(pk=pk), now=now)
    return len(open_ids)
