"""Break-glass: a superuser for an emergency, time-limited, approved and audited.

Nobody is a superuser at work; roles come from groups. When an incident needs
more (a broken role table, say), ``manage.py break_glass`` makes one person a
superuser for at most ``MAX_MINUTES``, for a recorded reason, once a second
person holding ``accounts.approve_staff_change`` has approved it with their own
current second-factor code. The grant ends by itself: every request of that
person checks it (``backoffice.break_glass.BreakGlassMiddleware``, which also
audits each request), and ``end_expired_break_glass`` demotes everyone whose
time is up.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.audit import AuditAction, record_audit_event
from accounts.models import BreakGlassGrant, StaffUser
from accounts.services.staff_security import StaffSecurityError, end_staff_sessions

MAX_MINUTES = 4 * 60
PERMISSION_APPROVE = "accounts.approve_staff_change"


class BreakGlassRefused(StaffSecurityError):
    pass


@transaction.atomic
def open_break_glass(
    *, staff: StaffUser, approver: StaffUser, approver_code: str, reason: str, minutes: int
) -> BreakGlassGrant:
    """Make ``staff`` a superuser until ``minutes`` from now, approved by ``approver``."""
    from accounts.services.staff_security import verify_staff_second_factor

    reason = reason.strip()
    if len(reason) < 20:
        raise BreakGlassRefused("Give the incident and why roles do not suffice (20+ characters).")
    if not 1 <= minutes <= MAX_MINUTES:
        raise BreakGlassRefused(f"A break-glass grant lasts 1 to {MAX_MINUTES} minutes.")
    if approver.pk == staff.pk:
        raise BreakGlassRefused("A second person must approve a break-glass grant.")
    if not (approver.is_active and approver.has_perm(PERMISSION_APPROVE)):
        raise BreakGlassRefused(f"{approver.username} may not approve a break-glass grant.")
    if not staff.is_active:
        raise BreakGlassRefused(f"{staff.username}'s account is disabled.")
    # The approver proves they are here, with their own second factor.
    if verify_staff_second_factor(staff=approver, token=approver_code) is None:
        raise BreakGlassRefused("The approver's code is not valid.")
    now = timezone.now()
    try:
        with transaction.atomic():
            grant = BreakGlassGrant.objects.create(
                staff=staff,
                approved_by=approver,
                reason=reason,
                granted_at=now,
                expires_at=now + timezone.timedelta(minutes=minutes),
            )
    except IntegrityError:
        raise BreakGlassRefused(
            f"{staff.username} already has an open break-glass grant."
        ) from None
    StaffUser.objects.filter(pk=staff.pk).update(is_superuser=True, is_staff=True)
    record_audit_event(
        actor=approver,
        action=AuditAction.BREAK_GLASS_OPENED,
        target=staff,
        summary={
            "username": staff.username,
            "grant_id": grant.pk,
            "expires_at": grant.expires_at.isoformat(),
        },
        reason=reason,
    )
    return grant


@transaction.atomic
def close_break_glass(*, staff: StaffUser, why: str = "expired") -> bool:
    """End ``staff``'s superuser status and any open grant; True when there was one."""
    now = timezone.now()
    closed = BreakGlassGrant.objects.filter(staff=staff, ended_at__isnull=True).update(ended_at=now)
    demoted = StaffUser.objects.filter(pk=staff.pk, is_superuser=True).update(is_superuser=False)
    if not (closed or demoted):
        return False
    end_staff_sessions(staff)
    record_audit_event(
        actor=None,
        actor_label="system",
        action=AuditAction.BREAK_GLASS_CLOSED,
        target=staff,
        summary={"username": staff.username, "why": why, "grants_closed": closed},
    )
    return True


def end_expired_break_glass() -> int:
    """Demote every superuser without a live grant; returns how many."""
    now = timezone.now()
    live = BreakGlassGrant.objects.filter(ended_at__isnull=True, expires_at__gt=now).values(
        "staff_id"
    )
    ended = 0
    for staff in StaffUser.objects.filter(is_superuser=True).exclude(pk__in=live):
        ended += close_break_glass(staff=staff)
    for grant in BreakGlassGrant.objects.filter(ended_at__isnull=True, expires_at__lte=now):
        ended += close_break_glass(staff=grant.staff)
    return ended


def has_live_break_glass(staff: StaffUser) -> bool:
    return BreakGlassGrant.objects.filter(
        staff=staff, ended_at__isnull=True, expires_at__gt=timezone.now()
    ).exists()


def record_break_glass_request(*, staff: StaffUser, method: str, path: str) -> None:
    """One audit event per request made with break-glass rights."""
    record_audit_event(
        actor=staff,
        action=AuditAction.BREAK_GLASS_REQUEST,
        target=staff,
        summary={"method": method, "path": path[:200]},
    )
