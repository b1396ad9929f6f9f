"""Clearing old sign-in history (django-axes' records), never through the admin.

Sign-in history and lockout records are evidence: the admin shows them but
deletes nothing, superusers included. Old rows go only through this service,
for a stated reason, past a minimum age, with an audit event that counts what
was removed.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.audit import AuditAction, record_audit_event
from accounts.models import StaffUser
from accounts.services.staff_security import StaffSecurityError

PERMISSION_CLEAR = "accounts.clear_sign_in_history"
# Younger history is kept whatever the reason: it is what an investigation reads first.
MIN_AGE_DAYS = 90


@transaction.atomic
def clear_sign_in_history(*, actor: StaffUser, older_than_days: int, reason: str) -> dict:
    """Delete sign-in records older than ``older_than_days``; returns counts per kind."""
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog

    if not actor.has_perm(PERMISSION_CLEAR):
        raise StaffSecurityError("You may not clear sign-in history.")
    if older_than_days < MIN_AGE_DAYS:
        raise StaffSecurityError(f"Only history older than {MIN_AGE_DAYS} days may be cleared.")
    reason = reason.strip()
    if len(reason) < 10:
        raise StaffSecurityError("Give a reason of at least 10 characters.")
    cutoff = timezone.now() - timezone.timedelta(days=older_than_days)
    removed = {
        "access_logs": AccessLog.objects.filter(attempt_time__lt=cutoff).delete()[0],
        "failure_logs": AccessFailureLog.objects.filter(attempt_time__lt=cutoff).delete()[0],
        "attempts": AccessAttempt.objects.filter(attempt_time__lt=cutoff).delete()[0],
    }
    record_audit_event(
        actor=actor,
        action=AuditAction.SIGN_IN_HISTORY_CLEARED,
        object_type="axes.accesslog",
        object_id="",
        summary={"older_than": cutoff.isoformat(), **removed},
        reason=reason,
    )
    return removed
