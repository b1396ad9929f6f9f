"""Reminders before a complaint's deadline and escalation to supervisors when it passes.

Run by the beat task. Each complaint is claimed by a conditional UPDATE of its
``reminded_at`` / ``escalated_at``, so two passes at once (two beats, a manual
run) remind or escalate it once.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from accounts.audit import record_audit_event
from accounts.audit_actions import AuditAction
from accounts.notifications import Notification, send_notification
from backoffice.complaints import deadlines
from backoffice.complaints.models import Complaint


def _tell_handler(complaint: Complaint, *, subject: str) -> None:
    if complaint.assignee_id and complaint.assignee.email:
        message = Notification(
            channel="email",
            recipient=complaint.assignee.email,
            subject=subject,
            body=f"Complaint #{complaint.pk}: decision due by {complaint.due_on:%Y-%m-%d}.",
            topic="complaint_deadline",
        )
        transaction.on_commit(lambda: send_notification(message))


@transaction.atomic
def watch_complaint_deadlines(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Remind the handler of each complaint near its deadline; escalate each one past it."""
    now = now or timezone.now()
    reminded = escalated = 0
    open_complaints = Complaint.objects.filter(state__in=Complaint.OPEN_STATES).select_related(
        "assignee"
    )
    for complaint in open_complaints.filter(escalated_at__isnull=True):
        if deadlines.is_breached(complaint.due_on, now=now):
            if Complaint.objects.filter(pk=complaint.pk, escalated_at__isnull=True).update(
                escalated_at=now
            ):
                escalated += 1
                record_audit_event(
                    actor=None,
                    action=AuditAction.COMPLAINT_ESCALATED,
                    target=complaint,
                    summary={"due_on": complaint.due_on.isoformat()},
                    reason="decision deadline passed",
                )
                _tell_handler(complaint, subject=f"Complaint #{complaint.pk} is past its deadline")
        elif (
            complaint.reminded_at is None
            and deadlines.reminder_due(complaint.due_on, now=now)
            and Complaint.objects.filter(pk=complaint.pk, reminded_at__isnull=True).update(
                reminded_at=now
            )
        ):
            reminded += 1
            record_audit_event(
                actor=None,
                action=AuditAction.COMPLAINT_REMINDED,
                target=complaint,
                summary={"days_left": deadlines.days_left(complaint.due_on, now=now)},
            )
            _tell_handler(complaint, subject=f"Complaint #{complaint.pk} is due soon")
    return {"reminded": reminded, "escalated": escalated}
