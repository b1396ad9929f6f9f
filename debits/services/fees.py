"""Late fees: accrual after the grace period, automatic waivers when the bank was
the cause, staff waivers and their supervisor approval above a threshold."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.audit import AuditAction, record_audit_event
from accounts.models import StaffUser
from debits.models import (
    DebitAttempt,
    Instalment,
    LateFee,
    Mandate,
    MandateSync,
    SkippedInstalment,
)
from debits.outcomes import BANK_SIDE_FAILURE_CODES
from debits.services.eligibility import BANK_SIDE_SKIP_REASONS
from debits.services.resync import MANDATE_CLOSED

CENT = Decimal("0.01")

# Rows per query while accruing, so one pass over a large book stays bounded.
ACCRUAL_BATCH = 2000

# How far before the due date a failed re-sync still explains a missed debit:
# one monthly cycle.
RESYNC_LOOKBACK = dt.timedelta(days=31)

# Bank-side causes, strongest first: the one named on the fee.
_BANK_SIDE_ORDER = (
    "agreement_stale",
    "agreement_revoked",
    "resync_failed",
    "mandate_out_of_sync",
    "gateway_unavailable",
    "timeout",
    "not_received",
)


class FeeWaiverError(Exception):
    """A waiver that is not allowed (shown to staff as a message)."""


def late_fee_amount(outstanding: Decimal) -> Decimal:
    return (settings.LATE_FEE_AMOUNT + settings.LATE_FEE_RATE * outstanding).quantize(
        CENT, rounding=ROUND_HALF_UP
    )


def lateness_causes(instalment_ids: list[int]) -> dict[int, tuple[str, bool]]:
    """instalment id → (cause, bank-side?), from its attempts, skips and mandate syncs.

    Any bank-side signal makes the cause bank-side: where the bank's fault and
    the customer's overlap, the customer gets the benefit of the doubt.
    """
    signals: dict[int, list[str]] = defaultdict(list)
    customer: dict[int, str] = {}
    for instalment_id, code, state in (
        DebitAttempt.objects.filter(instalment_id__in=instalment_ids)
        .exclude(failure_code="")
        .order_by("instalment_id", "attempt_number")
        .values_list("instalment_id", "failure_code", "state")
    ):
        if code in BANK_SIDE_FAILURE_CODES:
            signals[instalment_id].append(code)
        elif state == DebitAttempt.State.FAILED:
            customer[instalment_id] = code
    for instalment_id, reason in SkippedInstalment.objects.filter(
        instalment_id__in=instalment_ids
    ).values_list("instalment_id", "reason"):
        if reason in BANK_SIDE_SKIP_REASONS:
            signals[instalment_id].append(
                "mandate_out_of_sync" if reason == "mandate_out_of_sync" else reason
            )
        else:
            customer.setdefault(instalment_id, reason)

    rows = list(
        Instalment.objects.filter(pk__in=instalment_ids).values_list("pk", "loan_id", "due_date")
    )
    mandates = list(
        Mandate.objects.filter(loan_id__in={loan_id for _, loan_id, _ in rows})
        .with_sync_state()
        .values_list("pk", "loan_id", "synced_with_card", "sync_failed_at")
    )
    failed_syncs: dict[int, list[dt.datetime]] = defaultdict(list)
    for mandate_id, requested_at in (
        MandateSync.objects.filter(
            mandate_id__in=[m[0] for m in mandates], outcome=MandateSync.Outcome.FAILED
        )
        # A binding that came back after the mandate was cancelled is no bank failure.
        .exclude(error_code=MANDATE_CLOSED)
        .values_list("mandate_id", "requested_at")
    ):
        failed_syncs[mandate_id].append(requested_at)
    by_loan = defaultdict(list)
    for mandate in mandates:
        by_loan[mandate[1]].append(mandate)
    for instalment_id, loan_id, due_date in rows:
        window_start = timezone.make_aware(
            dt.datetime.combine(due_date - RESYNC_LOOKBACK, dt.time.min)
        )
        for mandate_id, _, synced_with_card, sync_failed_at in by_loan[loan_id]:
            if sync_failed_at is not None or any(
                at >= window_start for at in failed_syncs[mandate_id]
            ):
                signals[instalment_id].append("resync_failed")
            if not synced_with_card:
                signals[instalment_id].append("mandate_out_of_sync")

    causes = {}
    for instalment_id, _, _ in rows:
        found = signals.get(instalment_id)
        if found:
            ranked = sorted(
                set(found),
                key=lambda c: _BANK_SIDE_ORDER.index(c) if c in _BANK_SIDE_ORDER else 99,
            )
            causes[instalment_id] = (ranked[0], True)
        else:
            causes[instalment_id] = (customer.get(instalment_id, "not_collected"), False)
    return causes


def accrue_late_fees(*, on_date: dt.date) -> dict[str, int]:
    """Charge one late fee per instalment still unpaid after the grace period.

    Idempotent: the fee is unique per instalment, so a second pass adds none.
    A fee whose cause was the bank's is waived at once, with the reason recorded.
    """
    cutoff = on_date - dt.timedelta(days=settings.LATE_FEE_GRACE_DAYS)
    late = Instalment.objects.filter(state__in=Instalment.OPEN_STATES, due_date__lt=cutoff)
    overdue = late.exclude(state=Instalment.State.OVERDUE).update(state=Instalment.State.OVERDUE)
    totals = {"overdue": overdue, "accrued": 0, "waived": 0}
    last_id = 0
    while True:
        batch = list(
            late.filter(pk__gt=last_id, late_fee__isnull=True)
            .order_by("pk")
            .values_list("pk", "amount_due", "amount_paid")[:ACCRUAL_BATCH]
        )
        if not batch:
            break
        last_id = batch[-1][0]
        created = _accrue_batch(batch)
        totals["accrued"] += created["accrued"]
        totals["waived"] += created["waived"]
    record_audit_event(
        actor=None,
        action=AuditAction.LATE_FEE_ACCRUAL_RUN,
        object_type="debits.latefee",
        object_id=on_date.isoformat(),
        summary=totals,
    )
    return totals


@transaction.atomic
def _accrue_batch(batch: list[tuple[int, Decimal, Decimal]]) -> dict[str, int]:
    causes = lateness_causes([pk for pk, _, _ in batch])
    now = timezone.now()
    fees = []
    for pk, amount_due, amount_paid in batch:
        amount = late_fee_amount(amount_due - amount_paid)
        if amount <= 0:
            continue
        cause, bank_side = causes[pk]
        fees.append(
            LateFee(
                instalment_id=pk,
                amount=amount,
                accrued_at=now,
                cause=cause[:40],
                state=LateFee.State.WAIVED if bank_side else LateFee.State.ACCRUED,
                waiver_reason=f"Waived automatically: the bank caused the late payment ({cause})"
                if bank_side
                else "",
                waived_at=now if bank_side else None,
            )
        )
    LateFee.objects.bulk_create(fees, ignore_conflicts=True)
    # The rows stamped with this pass's time are the ones this pass created.
    ours = list(
        LateFee.objects.filter(
            instalment_id__in=[f.instalment_id for f in fees], accrued_at=now
        ).values_list("pk", "instalment_id", "state", "cause", "amount")
    )
    waived = 0
    for pk, instalment_id, state, cause, amount in ours:
        if state == LateFee.State.WAIVED:
            waived += 1
            record_audit_event(
                actor=None,
                action=AuditAction.LATE_FEE_WAIVED_AUTOMATICALLY,
                object_type="debits.latefee",
                object_id=pk,
                summary={"instalment": instalment_id, "cause": cause, "amount": str(amount)},
                reason="Bank-side cause of the late payment",
            )
    return {"accrued": len(ours) - waived, "waived": waived}


def _require(actor: StaffUser, permission: str) -> None:
    if not actor.has_perm(permission):
        raise FeeWaiverError("You do not hold the permission for this")


@transaction.atomic
def waive_late_fee(*, fee: LateFee, reason: str, actor: StaffUser) -> LateFee:
    """Staff waive a fee with a reason; above the threshold it awaits a supervisor."""
    _require(actor, "debits.waive_late_fee")
    reason = (reason or "").strip()
    if not reason:
        raise FeeWaiverError("A waiver needs a reason")
    needs_approval = fee.amount > settings.LATE_FEE_WAIVER_APPROVAL_THRESHOLD
    now = timezone.now()
    new_state = LateFee.State.WAIVER_PENDING if needs_approval else LateFee.State.WAIVED
    moved = LateFee.objects.filter(pk=fee.pk, state=LateFee.State.ACCRUED).update(
        state=new_state,
        waiver_reason=reason[:300],
        waiver_requested_by=actor,
        waived_at=None if needs_approval else now,
    )
    if not moved:
        raise FeeWaiverError("Only an accrued fee can be waived")
    fee.refresh_from_db()
    record_audit_event(
        actor=actor,
        action=AuditAction.LATE_FEE_WAIVER_REQUESTED
        if needs_approval
        else AuditAction.LATE_FEE_WAIVED,
        target=fee,
        summary={"amount": str(fee.amount), "instalment": fee.instalment_id},
        reason=reason[:300],
    )
    return fee


@transaction.atomic
def approve_fee_waiver(*, fee: LateFee, approver: StaffUser) -> LateFee:
    """A supervisor other than the requester completes a waiver above the threshold."""
    _require(approver, "debits.approve_fee_waiver")
    current = LateFee.objects.select_for_update().get(pk=fee.pk)
    if current.state != LateFee.State.WAIVER_PENDING:
        raise FeeWaiverError("This fee has no waiver awaiting approval")
    if current.waiver_requested_by_id == approver.pk:
        raise FeeWaiverError("The person who asked for a waiver cannot approve it")
    current.state = LateFee.State.WAIVED
    current.waiver_approved_by = approver
    current.waived_at = timezone.now()
    current.save(update_fields=["state", "waiver_approved_by", "waived_at"])
    record_audit_event(
        actor=approver,
        action=AuditAction.LATE_FEE_WAIVER_APPROVED,
        target=current,
        summary={
            "amount": str(current.amount),
            "instalment": current.instalment_id,
            "requested_by": current.waiver_requested_by_id,
        },
    )
    return current
