"""Compensation: requested by the handler, approved by a second person above the threshold.

Maker-checker is enforced here (the approver holds the role and is not the
requester; a refused self-approval is audited) and by the database's check
constraint ``compensation_approver_is_not_requester``, so no code path, admin
action or raw UPDATE can let someone approve their own request.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from accounts.audit import record_audit_event
from accounts.audit_actions import AuditAction
from accounts.models import StaffUser
from backoffice.complaints.models import Compensation, Complaint
from backoffice.complaints.services.errors import ComplaintError
from debits.models import DebitAttempt, LateFee

APPROVE = "complaints.approve_compensation"


def needs_second_approver(amount: Decimal) -> bool:
    return amount > settings.COMPENSATION_APPROVAL_THRESHOLD


CENT = Decimal("0.01")
# The most the amount column holds (MONEY: 14 digits, 2 of them after the point).
LARGEST_AMOUNT = Decimal("999999999999.99")


def _check(amount: Decimal, reason: str, kind: str) -> None:
    if kind not in Compensation.Kind.values:
        raise ComplaintError(f"Unknown compensation: {kind}")
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
        raise ComplaintError(gettext_noop("A compensation is a positive amount"))
    # The database keeps whole fen: a finer amount would be rounded on save (to
    # nothing, for less than half a fen), and the customer paid other than decided.
    if amount != amount.quantize(CENT):
        raise ComplaintError(
            gettext_noop("A compensation is an amount in whole fen (two decimal places)")
        )
    if amount > LARGEST_AMOUNT:
        raise ComplaintError(gettext_noop("A compensation cannot be that large"))
    if not (reason or "").strip():
        raise ComplaintError(gettext_noop("A compensation needs a reason"))


def _grant_or_queue(compensation: Compensation, *, actor: StaffUser) -> Compensation:
    """Approved at once up to the threshold; above it, waiting for a second approver."""
    if needs_second_approver(compensation.amount):
        compensation.state = Compensation.State.AWAITING_APPROVAL
        action = AuditAction.COMPENSATION_REQUESTED
    else:
        compensation.state = Compensation.State.APPROVED
        compensation.decided_at = timezone.now()
        action = AuditAction.COMPENSATION_GRANTED
    compensation.requested_by = actor
    compensation.save()
    record_audit_event(
        actor=actor,
        action=action,
        target=compensation,
        summary={
            "complaint": compensation.complaint_id,
            "kind": compensation.kind,
            "amount": str(compensation.amount),
        },
        reason=compensation.reason[:300],
    )
    return compensation


@transaction.atomic
def request_compensation(
    *,
    complaint: Complaint,
    kind: str,
    amount: Decimal,
    reason: str,
    actor: StaffUser,
    late_fee: LateFee | None = None,
    debit_attempt: DebitAttempt | None = None,
) -> Compensation:
    if not actor.has_perm("complaints.handle_complaint"):
        raise ComplaintError(gettext_noop("You do not hold the permission to compensate customers"))
    _check(amount, reason, kind)
    compensation = Compensation(
        complaint=complaint,
        kind=kind,
        amount=amount,
        reason=reason.strip(),
        late_fee=late_fee,
        debit_attempt=debit_attempt,
    )
    return _grant_or_queue(compensation, actor=actor)


@transaction.atomic
def confirm_compensation_proposal(*, compensation: Compensation, actor: StaffUser) -> Compensation:
    """An officer takes on an automatic proposal (the repair promise's) as its requester."""
    if not actor.has_perm("complaints.handle_complaint"):
        raise ComplaintError(gettext_noop("You do not hold the permission to compensate customers"))
    locked = Compensation.objects.select_for_update().get(pk=compensation.pk)
    if locked.state != Compensation.State.PROPOSED:
        raise ComplaintError(gettext_noop("Only an automatic proposal can be confirmed"))
    return _grant_or_queue(locked, actor=actor)


def approve_compensation(*, compensation: Compensation, approver: StaffUser) -> Compensation:
    """The second approver, never the requester; a refused self-approval is audited."""
    if not approver.has_perm(APPROVE):
        raise ComplaintError(
            gettext_noop("Only a supervisor may approve a compensation above the threshold")
        )
    refused = False
    with transaction.atomic():
        locked = Compensation.objects.select_for_update().get(pk=compensation.pk)
        if locked.state != Compensation.State.AWAITING_APPROVAL:
            raise ComplaintError(gettext_noop("This compensation is not waiting for approval"))
        if locked.requested_by_id == approver.pk:
            refused = True
            record_audit_event(
                actor=approver,
                action=AuditAction.COMPENSATION_APPROVAL_REFUSED,
                target=locked,
                summary={"amount": str(locked.amount)},
                reason="the requester cannot approve their own compensation",
            )
        else:
            locked.state = Compensation.State.APPROVED
            locked.approved_by = approver
            locked.decided_at = timezone.now()
            locked.save(update_fields=["state", "approved_by", "decided_at"])
            record_audit_event(
                actor=approver,
                action=AuditAction.COMPENSATION_APPROVED,
                target=locked,
                summary={
                    "complaint": locked.complaint_id,
                    "amount": str(locked.amount),
                    "requested_by": locked.requested_by_id,
                },
            )
    if refused:
        raise ComplaintError(
            gettext_noop("The person who asked for a compensation cannot approve it")
        )
    return locked


@transaction.atomic
def reject_compensation(
    *, compensation: Compensation, actor: StaffUser, reason: str
) -> Compensation:
    """A supervisor turns down a request, or an officer an automatic proposal."""
    locked = Compensation.objects.select_for_update().get(pk=compensation.pk)
    if locked.state == Compensation.State.AWAITING_APPROVAL:
        if not actor.has_perm(APPROVE) or locked.requested_by_id == actor.pk:
            raise ComplaintError(
                gettext_noop("Only a second approver may turn this compensation down")
            )
    elif locked.state == Compensation.State.PROPOSED:
        if not actor.has_perm("complaints.handle_complaint"):
            raise ComplaintError(
                gettext_noop("You do not hold the permission to compensate customers")
            )
    else:
        raise ComplaintError(gettext_noop("This compensation is already decided"))
    if not (reason or "").strip():
        raise ComplaintError(gettext_noop("Say why the compensation is turned down"))
    locked.state = Compensation.State.REJECTED
    locked.decided_at = timezone.now()
    locked.save(update_fields=["state", "decided_at"])
    record_audit_event(
        actor=actor,
        action=AuditAction.COMPENSATION_REJECTED,
        target=locked,
        summary={"amount": str(locked.amount)},
        reason=reason.strip(),
    )
    return locked
