"""A complaint's life: logged, assigned, investigated, extended, decided, closed, reopened.

Every move goes through ``_move``, which checks ``TRANSITIONS`` (the state
machine, in one place) and changes the row with a conditional UPDATE, so two
people acting at once cannot both move it. An illegal move raises
``ComplaintError``; the page shows its message.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from accounts.audit import record_audit_event
from accounts.audit_actions import AuditAction
from accounts.models import Card, Customer, StaffUser
from backoffice.complaints import deadlines
from backoffice.complaints.diagnosis import diagnose
from backoffice.complaints.models import Complaint, ComplaintAssignment, DeadlineExtension, Team
from backoffice.complaints.services.errors import ComplaintError
from backoffice.complaints.services.notices import (
    tell_complaint_acknowledged,
    tell_complaint_decided,
    tell_deadline_extended,
)
from backoffice.complaints.services.repair_promise import start_repair_clock
from backoffice.complaints.timeline import TIMELINE_DAYS, card_timeline

S = Complaint.State
TRANSITIONS: dict[str, frozenset[str]] = {
    S.RECEIVED: frozenset({S.INVESTIGATING}),
    S.INVESTIGATING: frozenset({S.DECIDED}),
    S.DECIDED: frozenset({S.CLOSED, S.INVESTIGATING}),
    S.CLOSED: frozenset({S.INVESTIGATING}),
}

HANDLE = "complaints.handle_complaint"


def require(actor: StaffUser, permission: str, what: str) -> None:
    if not actor.has_perm(permission):
        raise ComplaintError(f"You do not hold the permission to {what}")


def _move(complaint: Complaint, to: str, **fields) -> Complaint:
    """Move the complaint to ``to`` if its state allows it; the row decides a race."""
    current = Complaint.objects.values_list("state", flat=True).get(pk=complaint.pk)
    if to not in TRANSITIONS[current]:
        raise ComplaintError(
            f"A complaint that is {S(current).label.lower()} cannot become {S(to).label.lower()}"
        )
    moved = Complaint.objects.filter(pk=complaint.pk, state=current).update(state=to, **fields)
    if not moved:
        raise ComplaintError(
            gettext_noop("Someone else changed this complaint meanwhile; reload the page")
        )
    complaint.refresh_from_db()
    return complaint


def disputed_timeline(complaint: Complaint):
    """The card's timeline from 90 days before the complaint up to now."""
    since = complaint.received_at - dt.timedelta(days=TIMELINE_DAYS)
    return card_timeline(complaint.card, since=since) if complaint.card_id else None


def complaint_diagnosis(complaint: Complaint):
    """(timeline, diagnosis) of the events up to the complaint; (None, None) without a card."""
    timeline = disputed_timeline(complaint)
    if timeline is None:
        return None, None
    return timeline, diagnose(timeline, until=complaint.received_at)


@transaction.atomic
def log_complaint(
    *,
    customer: Customer,
    card: Card | None,
    category: str,
    channel: str,
    description: str,
    actor: StaffUser,
    received_at: dt.datetime | None = None,
) -> Complaint:
    """Record a complaint, acknowledge it to the customer, start the repair clock if due."""
    require(actor, "complaints.add_complaint", "log a complaint")
    if card is not None and card.customer_id != customer.pk:
        raise ComplaintError(gettext_noop("That card belongs to another customer"))
    if not (description or "").strip():
        raise ComplaintError(gettext_noop("Describe what the customer complains about"))
    received_at = received_at or timezone.now()
    if received_at > timezone.now():
        raise ComplaintError(gettext_noop("A complaint cannot be received in the future"))
    received_on = deadlines.received_on(received_at)
    complaint = Complaint.objects.create(
        customer=customer,
        card=card,
        category=category,
        channel=channel,
        description=description.strip(),
        logged_by=actor,
        received_at=received_at,
        received_on=received_on,
        due_on=deadlines.due_on(received_on),
        acknowledged_at=timezone.now(),
    )
    record_audit_event(
        actor=actor,
        action=AuditAction.COMPLAINT_LOGGED,
        target=complaint,
        summary={
            "category": category,
            "channel": channel,
            "card": card.pk if card else None,
            "received_on": received_on.isoformat(),
            "due_on": complaint.due_on.isoformat(),
        },
    )
    tell_complaint_acknowledged(complaint)
    _, found = complaint_diagnosis(complaint)
    if found is not None:
        start_repair_clock(complaint=complaint, diagnosis=found)
    return complaint


@transaction.atomic
def start_investigation(*, complaint: Complaint, actor: StaffUser) -> Complaint:
    require(actor, HANDLE, "handle complaints")
    _move(complaint, S.INVESTIGATING)
    record_audit_event(
        actor=actor, action=AuditAction.COMPLAINT_INVESTIGATION_STARTED, target=complaint
    )
    return complaint


def conflicts_of_interest(complaint: Complaint, staff: StaffUser) -> list[str]:
    """What ``staff`` did in the events the complaint disputes (empty: no conflict)."""
    timeline = disputed_timeline(complaint)
    if timeline is None:
        return []
    return timeline.staff_involved(until=complaint.received_at).get(staff.pk, [])


def assign_complaint(
    *, complaint: Complaint, assignee: StaffUser, actor: StaffUser, team: str | None = None
) -> Complaint:
    """Give the complaint to an officer, unless they have an interest in what is disputed.

    The measures require that the handler has no direct interest in the
    complaint: anyone who appears in the card's timeline for the disputed
    events (reset the password, waived or refused the fee...) is refused, and
    the refusal is audited (it commits even though the assignment does not).
    """
    require(actor, HANDLE, "assign complaints")
    team = team or complaint.team
    if team not in Team.values:
        raise ComplaintError(f"Unknown team: {team}")
    if not assignee.is_active or not assignee.has_perm(HANDLE):
        raise ComplaintError(f"{assignee.get_full_name() or assignee} does not handle complaints")
    refusal = ""
    with transaction.atomic():
        conflicts = conflicts_of_interest(complaint, assignee)
        if conflicts:
            name = assignee.get_full_name() or assignee.username
            refusal = (
                f"{name} cannot handle this complaint: they appear in the events it disputes "
                f"({'; '.join(conflicts[:3])})"
            )
            record_audit_event(
                actor=actor,
                action=AuditAction.COMPLAINT_ASSIGNMENT_REFUSED,
                target=complaint,
                summary={"assignee": assignee.pk, "conflicts": conflicts[:5]},
                reason="conflict of interest",
            )
        else:
            locked = Complaint.objects.select_for_update().get(pk=complaint.pk)
            if locked.state == S.CLOSED:
                raise ComplaintError(
                    gettext_noop("A closed complaint is reopened before it is reassigned")
                )
            previous = locked.assignee_id
            locked.assignee = assignee
            locked.team = team
            locked.save(update_fields=["assignee", "team"])
            ComplaintAssignment.objects.create(
                complaint=locked, assignee=assignee, team=team, assigned_by=actor
            )
            if locked.state == S.RECEIVED:
                _move(locked, S.INVESTIGATING)
            record_audit_event(
                actor=actor,
                action=AuditAction.COMPLAINT_ASSIGNED,
                target=locked,
                summary={"assignee": assignee.pk, "previous": previous, "team": team},
            )
            complaint.refresh_from_db()
    if refusal:
        raise ComplaintError(refusal)
    return complaint


@transaction.atomic
def extend_complaint_deadline(
    *, complaint: Complaint, reason: str, actor: StaffUser, now: dt.datetime | None = None
) -> DeadlineExtension:
    """To 30 days with a reason; to 60 only by a supervisor, and the customer is told."""
    require(actor, HANDLE, "handle complaints")
    reason = (reason or "").strip()
    if not reason:
        raise ComplaintError(gettext_noop("An extension needs a recorded reason"))
    locked = Complaint.objects.select_for_update().get(pk=complaint.pk)
    if not locked.is_open:
        raise ComplaintError(gettext_noop("Only an open complaint's deadline can be extended"))
    if deadlines.is_breached(locked.due_on, now=now or timezone.now()):
        raise ComplaintError(
            gettext_noop("The deadline has already passed; it can no longer be extended")
        )
    try:
        stage = deadlines.next_stage(locked.deadline_stage)
    except deadlines.DeadlineError as exc:
        raise ComplaintError(str(exc)) from None
    if stage == Complaint.DeadlineStage.FURTHER_EXTENDED and not actor.has_perm(
        "complaints.approve_deadline_extension"
    ):
        raise ComplaintError(
            gettext_noop("Beyond 30 days the deadline moves only with a supervisor's approval")
        )
    previous = locked.due_on
    extension = DeadlineExtension.objects.create(
        complaint=locked,
        stage=stage,
        reason=reason,
        extended_by=actor,
        approved_by=actor if stage == Complaint.DeadlineStage.FURTHER_EXTENDED else None,
        previous_due_on=previous,
        new_due_on=deadlines.due_on(locked.received_on, stage),
    )
    locked.deadline_stage = stage
    locked.due_on = extension.new_due_on
    locked.reminded_at = None
    locked.save(update_fields=["deadline_stage", "due_on", "reminded_at"])
    record_audit_event(
        actor=actor,
        action=AuditAction.COMPLAINT_DEADLINE_EXTENDED,
        target=locked,
        summary={"stage": stage, "from": previous.isoformat(), "to": locked.due_on.isoformat()},
        reason=reason,
    )
    tell_deadline_extended(locked, reason=reason)
    complaint.refresh_from_db()
    return extension


@transaction.atomic
def decide_complaint(
    *,
    complaint: Complaint,
    outcome: str,
    decision: str,
    actor: StaffUser,
    root_cause: str = "",
) -> Complaint:
    """Record the decision and its root cause, and send it to the customer."""
    require(actor, HANDLE, "decide complaints")
    if outcome not in Complaint.Outcome.values:
        raise ComplaintError(gettext_noop("Choose the outcome of the complaint"))
    if not (decision or "").strip():
        raise ComplaintError(gettext_noop("Write the decision the customer will receive"))
    _, found = complaint_diagnosis(complaint)
    cause = root_cause or (found.root_cause if found else "none_found")
    now = timezone.now()
    _move(
        complaint,
        S.DECIDED,
        outcome=outcome,
        decision=decision.strip(),
        root_cause=cause,
        diagnosis={"en": found.text_en, "zh": found.text_zh} if found else {},
        decided_at=now,
        decided_by=actor,
    )
    record_audit_event(
        actor=actor,
        action=AuditAction.COMPLAINT_DECIDED,
        target=complaint,
        summary={
            "outcome": outcome,
            "root_cause": cause,
            "days": deadlines.days_to_decision(complaint.received_on, now),
        },
    )
    tell_complaint_decided(complaint)
    return complaint


@transaction.atomic
def close_complaint(*, complaint: Complaint, actor: StaffUser) -> Complaint:
    require(actor, HANDLE, "handle complaints")
    _move(complaint, S.CLOSED, closed_at=timezone.now())
    record_audit_event(actor=actor, action=AuditAction.COMPLAINT_CLOSED, target=complaint)
    return complaint


@transaction.atomic
def reopen_complaint(*, complaint: Complaint, reason: str, actor: StaffUser) -> Complaint:
    """The customer came back (a review): investigate again, the deadline unchanged."""
    require(actor, HANDLE, "handle complaints")
    if not (reason or "").strip():
        raise ComplaintError(gettext_noop("Say why the complaint is reopened"))
    _move(complaint, S.INVESTIGATING, closed_at=None)
    record_audit_event(
        actor=actor, action=AuditAction.COMPLAINT_REOPENED, target=complaint, reason=reason.strip()
    )
    return complaint
