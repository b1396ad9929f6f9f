"""Maker-checker for staff access: one person asks, a second person decides.

Granting a role, re-enabling an account and resetting a staff password all
widen what someone can do, so each is a ``StaffChangeRequest`` made by a
person holding ``accounts.request_staff_change`` (the admin role) and applied
only when another person holding ``accounts.approve_staff_change`` (another
admin, or a supervisor) approves it. Nobody asks for or decides a change
about themselves; the database refuses that too. An approved password reset
makes the old password unusable, ends every session of its owner and sends
them a single-use link: nobody ever sets another person's password.
"""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.audit import AuditAction, record_audit_event
from accounts.models import StaffChangeRequest, StaffPasswordReset, StaffUser
from accounts.notifications import Notification
from accounts.roles import Role
from accounts.services.link_delivery import LinkDelivery, send_link_after_commit
from accounts.services.staff_security import (
    StaffSecurityError,
    end_staff_sessions,
    set_staff_active,
)

PERMISSION_REQUEST = "accounts.request_staff_change"
PERMISSION_APPROVE = "accounts.approve_staff_change"
# How long a staff member's reset link works.
STAFF_RESET_LINK_TTL_SECONDS = 60 * 60
MIN_REASON_LENGTH = 10


class StaffChangeRefused(StaffSecurityError):
    """A staff change request that cannot be made or decided; the message is for staff."""


class StaffResetLinkInvalid(StaffSecurityError):
    pass


def staff_reset_token_fingerprint(token: str) -> str:
    # 256 random bits: a plain SHA-256 is enough to keep the token out of the database.
    return hashlib.sha256(f"staff-reset:{token}".encode()).hexdigest()


def _reason(reason: str) -> str:
    reason = reason.strip()
    if len(reason) < MIN_REASON_LENGTH:
        raise StaffChangeRefused(f"Give a reason of at least {MIN_REASON_LENGTH} characters.")
    return reason


@transaction.atomic
def request_staff_change(
    *, staff: StaffUser, kind: str, actor: StaffUser, reason: str, role: str = ""
) -> StaffChangeRequest:
    """Ask for a role grant, re-enabling or password reset of ``staff``; nothing changes yet."""
    if not actor.has_perm(PERMISSION_REQUEST):
        raise StaffChangeRefused("You may not ask for staff changes.")
    if actor.pk == staff.pk:
        raise StaffChangeRefused("Nobody asks for a change to their own access.")
    if kind not in StaffChangeRequest.Kind.values:
        raise StaffChangeRefused(f"Unknown kind of change: {kind}")
    reason = _reason(reason)
    if kind == StaffChangeRequest.Kind.GRANT_ROLE:
        if role not in {r.value for r in Role}:
            raise StaffChangeRefused("Choose one of the bank's roles.")
        if staff.groups.filter(name=role).exists():
            raise StaffChangeRefused(f"{staff.username} already holds the {role} role.")
    else:
        role = ""
    if kind == StaffChangeRequest.Kind.REACTIVATE and staff.is_active:
        raise StaffChangeRefused(f"{staff.username}'s account is already enabled.")
    try:
        with transaction.atomic():
            change = StaffChangeRequest.objects.create(
                staff=staff, kind=kind, role=role, reason=reason, requested_by=actor
            )
    except IntegrityError:
        raise StaffChangeRefused("The same change is already waiting for approval.") from None
    record_audit_event(
        actor=actor,
        action=AuditAction.STAFF_CHANGE_REQUESTED,
        target=change,
        summary={"staff": staff.username, "kind": kind, "role": role},
        reason=reason,
    )
    return change


def _lock_pending(change: StaffChangeRequest) -> StaffChangeRequest:
    locked = (
        StaffChangeRequest.objects.select_for_update()
        .select_related("staff")
        .filter(pk=change.pk, state=StaffChangeRequest.State.PENDING)
        .first()
    )
    if locked is None:
        raise StaffChangeRefused("This request has already been decided.")
    return locked


def _check_decider(change: StaffChangeRequest, decider: StaffUser) -> None:
    if not decider.has_perm(PERMISSION_APPROVE):
        raise StaffChangeRefused("You may not decide staff change requests.")
    if decider.pk == change.requested_by_id:
        raise StaffChangeRefused("A second person must decide: you asked for this change.")
    if decider.pk == change.staff_id:
        raise StaffChangeRefused("Nobody decides a change to their own access.")


@transaction.atomic
def approve_staff_change(
    *, change_request: StaffChangeRequest, approver: StaffUser, reason: str = ""
) -> StaffChangeRequest:
    """A second person approves; the change is applied in the same transaction."""
    change = _lock_pending(change_request)
    _check_decider(change, approver)
    now = timezone.now()
    delivery = None
    change.state = StaffChangeRequest.State.APPROVED
    change.decided_by = approver
    change.decided_at = now
    change.decision_reason = reason.strip()
    change.save(update_fields=["state", "decided_by", "decided_at", "decision_reason"])
    staff = change.staff
    if change.kind == StaffChangeRequest.Kind.GRANT_ROLE:
        staff.groups.add(Group.objects.get(name=change.role))
    elif change.kind == StaffChangeRequest.Kind.REACTIVATE:
        set_staff_active(
            staff=staff, actor=approver, active=True, reason=change.reason, approval=change
        )
    else:
        delivery = _send_staff_reset_link(change, now=now)
    record_audit_event(
        actor=approver,
        action=AuditAction.STAFF_CHANGE_APPROVED,
        target=change,
        summary={
            "staff": staff.username,
            "kind": change.kind,
            "role": change.role,
            "requested_by": change.requested_by_id,
        },
        reason=change.decision_reason,
    )
    change_request.refresh_from_db()
    # For a reset: ``link_delivery.failed`` tells the page the gateway refused the link.
    change.link_delivery = delivery
    return change


@transaction.atomic
def reject_staff_change(
    *, change_request: StaffChangeRequest, approver: StaffUser, reason: str
) -> StaffChangeRequest:
    change = _lock_pending(change_request)
    _check_decider(change, approver)
    change.state = StaffChangeRequest.State.REJECTED
    change.decided_by = approver
    change.decided_at = timezone.now()
    change.decision_reason = _reason(reason)
    change.save(update_fields=["state", "decided_by", "decided_at", "decision_reason"])
    record_audit_event(
        actor=approver,
        action=AuditAction.STAFF_CHANGE_REJECTED,
        target=change,
        summary={"staff": change.staff.username, "kind": change.kind, "role": change.role},
        reason=change.decision_reason,
    )
    change_request.refresh_from_db()
    return change


def _send_staff_reset_link(change: StaffChangeRequest, *, now) -> LinkDelivery:
    staff = change.staff
    if not staff.email:
        raise StaffChangeRefused(f"{staff.username} has no e-mail address for the reset link.")
    token = secrets.token_urlsafe(32)
    StaffPasswordReset.objects.filter(staff=staff, used_at__isnull=True).update(used_at=now)
    StaffPasswordReset.objects.create(
        staff=staff,
        change_request=change,
        token_fingerprint=staff_reset_token_fingerprint(token),
        created_at=now,
        expires_at=now + timezone.timedelta(seconds=STAFF_RESET_LINK_TTL_SECONDS),
    )
    # The old password stops working and every session ends at once.
    staff.set_unusable_password()
    staff.save(update_fields=["password"])
    end_staff_sessions(staff)
    path = reverse("signin:staff_password_reset_link", kwargs={"token": token})
    minutes = STAFF_RESET_LINK_TTL_SECONDS // 60
    message = Notification(
        channel="email",
        recipient=staff.email,
        subject="Choose a new back-office password",
        body=(
            f"Open {settings.PUBLIC_BASE_URL.rstrip('/')}{path} within {minutes} minutes to "
            "choose a new password. The link works once."
        ),
        topic="staff_password_reset_link",
    )
    return send_link_after_commit(message, target=staff, actor=change.decided_by)


def _usable_reset(fingerprint: str, *, lock: bool = False) -> StaffPasswordReset:
    resets = StaffPasswordReset.objects.select_related("staff")
    if lock:
        resets = resets.select_for_update()
    reset = resets.filter(token_fingerprint=fingerprint).first()
    if reset is None or reset.used_at is not None or reset.expires_at <= timezone.now():
        raise StaffResetLinkInvalid("This link is not valid any more; ask an admin for a new one.")
    return reset


def check_staff_reset_link(*, token_fingerprint: str) -> StaffPasswordReset:
    """The open reset behind a link (read-only), or StaffResetLinkInvalid."""
    return _usable_reset(token_fingerprint)


@transaction.atomic
def complete_staff_password_reset(*, token_fingerprint: str, new_password: str) -> StaffUser:
    """The owner of a reset link sets their new password; the link is used up."""
    reset = _usable_reset(token_fingerprint, lock=True)
    staff = reset.staff
    password_validation.validate_password(new_password, staff)
    used = StaffPasswordReset.objects.filter(pk=reset.pk, used_at__isnull=True).update(
        used_at=timezone.now()
    )
    if not used:
        raise StaffResetLinkInvalid("This link has already been used.")
    staff.set_password(new_password)
    staff.save(update_fields=["password"])
    end_staff_sessions(staff)
    record_audit_event(
        actor=staff,
        action=AuditAction.STAFF_PASSWORD_RESET_COMPLETED,
        target=staff,
        summary={"username": staff.username, "reset_id": reset.pk},
    )
    return staff
