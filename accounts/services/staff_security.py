"""Staff security actions: second factor, lockout, sessions, account state, phone reveal.

Every change to what lets a person in (password, second factor, active flag)
bumps ``StaffUser.session_generation``; it is part of the session hash, so each
of that person's open sessions ends on its next request.
"""

from __future__ import annotations

import math
import secrets
from base64 import b32encode
from dataclasses import dataclass

from django.contrib.auth import password_validation
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_noop

from accounts.audit import AuditAction, record_audit_event
from accounts.models import AuthenticatorDevice, BackupCodeDevice, Customer, StaffUser

# Enough to survive a lost phone for a few sign-ins, few enough to keep on paper.
BACKUP_CODE_COUNT = 10
TOTP_DEVICE_NAME = "Authenticator app"
BACKUP_DEVICE_NAME = "Backup codes"


class StaffSecurityError(Exception):
    """A staff security action that cannot be done; the message is shown to staff."""


class InvalidSecondFactorCode(StaffSecurityError):
    pass


@dataclass(frozen=True)
class TotpEnrolment:
    device: AuthenticatorDevice
    # The otpauth:// URI carries the shared secret: shown once, never stored elsewhere.
    provisioning_uri: str


def end_staff_sessions(staff: StaffUser) -> None:
    """Every open session of ``staff`` ends on its next request (part of a service)."""
    StaffUser.objects.filter(pk=staff.pk).update(session_generation=F("session_generation") + 1)
    staff.refresh_from_db(fields=["session_generation"])


def has_confirmed_second_factor(staff: StaffUser) -> bool:
    return AuthenticatorDevice.objects.filter(user=staff, confirmed=True).exists()


def _new_backup_code() -> str:
    # 10 hex characters (40 bits): single use, and every wrong guess counts towards lockout.
    return secrets.token_hex(5)


@transaction.atomic
def start_totp_enrolment(*, staff: StaffUser) -> TotpEnrolment:
    """A fresh unconfirmed authenticator for ``staff``; any earlier unconfirmed one dies.

    Refused while a confirmed factor exists: replacing it takes an admin's reset.
    """
    if has_confirmed_second_factor(staff):
        raise StaffSecurityError(
            gettext_noop("A second factor is already enrolled; ask an admin to reset it.")
        )
    AuthenticatorDevice.objects.filter(user=staff, confirmed=False).delete()
    device = AuthenticatorDevice.objects.create(user=staff, name=TOTP_DEVICE_NAME, confirmed=False)
    record_audit_event(
        actor=staff,
        action=AuditAction.STAFF_SECOND_FACTOR_ENROLMENT_STARTED,
        target=staff,
        summary={"device_id": device.pk},
    )
    return TotpEnrolment(device=device, provisioning_uri=device.config_url)


def confirm_totp_enrolment(
    *, staff: StaffUser, token: str
) -> tuple[AuthenticatorDevice, list[str]]:
    """Confirm the pending authenticator with a valid code; returns it and new backup codes.

    The backup codes are returned once and only their single-use tokens are kept.
    Ends every other session of ``staff`` (the factor changed). A wrong code is
    audited in its own committed transaction before the error is raised, so the
    record of the failure is not rolled back with it.
    """
    with transaction.atomic():
        device = (
            AuthenticatorDevice.objects.select_for_update()
            .filter(user=staff, confirmed=False)
            .order_by("-id")
            .first()
        )
        if device is None:
            raise StaffSecurityError(
                gettext_noop("No enrolment in progress; reload the enrolment page.")
            )
        if device.verify_token(token.strip()):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            codes = _replace_backup_codes(staff)
            end_staff_sessions(staff)
            record_audit_event(
                actor=staff,
                action=AuditAction.STAFF_SECOND_FACTOR_ENROLLED,
                target=staff,
                summary={"device_id": device.pk, "backup_codes": len(codes)},
            )
            return device, codes
        record_audit_event(
            actor=staff,
            action=AuditAction.STAFF_SECOND_FACTOR_ENROLMENT_FAILED,
            target=staff,
            summary={"device_id": device.pk},
        )
    raise InvalidSecondFactorCode(gettext_noop("That code is not valid; try the current one."))


def _replace_backup_codes(staff: StaffUser) -> list[str]:
    BackupCodeDevice.objects.filter(user=staff).delete()
    device = BackupCodeDevice.objects.create(user=staff, name=BACKUP_DEVICE_NAME, confirmed=True)
    codes = [_new_backup_code() for _ in range(BACKUP_CODE_COUNT)]
    device.add_codes(codes)  # only keyed digests are stored
    return codes


def looks_like_authenticator_code(token: str) -> bool:
    """Six to eight digits: an authenticator app's code (backup codes are ten characters)."""
    token = token.strip().replace(" ", "")
    return token.isdigit() and 6 <= len(token) <= 8


def second_factor_wait_seconds(*, staff: StaffUser) -> int:
    """Seconds until the authenticator app's codes are checked again; 0 when they are now.

    After a wrong code django-otp refuses every code, the right one too, for a
    delay that doubles with each failure (1 s, 2 s, 4 s, ...). Asked before
    verifying, so the sign-in page can say "wait" rather than "not valid" to a
    code that was never checked.
    """
    now = timezone.now()
    waits = [0]
    for device in AuthenticatorDevice.objects.filter(user=staff, confirmed=True):
        allowed, info = device.verify_is_allowed()
        if not allowed and info and info.get("locked_until"):
            waits.append(max(1, math.ceil((info["locked_until"] - now).total_seconds())))
    return max(waits)


@transaction.atomic
def verify_staff_second_factor(*, staff: StaffUser, token: str):
    """The confirmed device (authenticator or backup code) that accepts ``token``, or None.

    A backup code is consumed by the match. Both outcomes are audited; counting a
    failure towards lockout is the caller's job (it holds the request).
    """
    token = token.strip().replace(" ", "")
    matched = None
    # A code goes only to the kind of device it can belong to: a backup code
    # checked against the authenticator (or the reverse) would count as a wrong
    # code there and throttle the next right one.
    model = AuthenticatorDevice if looks_like_authenticator_code(token) else BackupCodeDevice
    if token:
        # Locked, so two requests with one code cannot both pass the replay guard.
        for device in model.objects.select_for_update().filter(user=staff, confirmed=True):
            if device.verify_token(token):
                matched = device
                break
    record_audit_event(
        actor=staff,
        action=AuditAction.STAFF_SECOND_FACTOR_VERIFIED
        if matched
        else AuditAction.STAFF_SECOND_FACTOR_FAILED,
        target=staff,
        summary={"device": matched.persistent_id if matched else None},
    )
    return matched


@transaction.atomic
def reset_staff_second_factor(*, staff: StaffUser, actor: StaffUser, reason: str) -> None:
    """Remove every second factor of ``staff``; they must enrol again at next sign-in."""
    if not actor.has_perm("accounts.reset_staff_second_factor"):
        raise StaffSecurityError(gettext_noop("You may not reset a second factor."))
    totp_deleted, _ = AuthenticatorDevice.objects.filter(user=staff).delete()
    static_deleted, _ = BackupCodeDevice.objects.filter(user=staff).delete()
    end_staff_sessions(staff)
    record_audit_event(
        actor=actor,
        action=AuditAction.STAFF_SECOND_FACTOR_RESET,
        target=staff,
        summary={"username": staff.username, "devices_removed": totp_deleted + static_deleted},
        reason=reason,
    )


@transaction.atomic
def unlock_staff(*, username: str, actor: StaffUser, reason: str) -> int:
    """Clear django-axes' failed attempts for ``username``; returns how many were removed."""
    from axes.utils import reset

    if not actor.has_perm("accounts.unlock_staff"):
        raise StaffSecurityError(gettext_noop("You may not unlock a staff login."))
    removed = reset(username=username)
    staff = StaffUser.objects.filter(username=username).first()
    record_audit_event(
        actor=actor,
        action=AuditAction.STAFF_UNLOCKED,
        target=staff,
        object_type="" if staff else "accounts.staffuser",
        object_id="" if staff else username,
        summary={"username": username, "attempt_records_removed": removed},
        reason=reason,
    )
    return removed


@transaction.atomic
def change_staff_password(
    *, staff: StaffUser, actor: StaffUser | None, new_password: str | None
) -> None:
    """Set (or, with None, disable) a staff password; every session of ``staff`` ends.

    Only its owner sets a password (``actor`` is ``staff``, or None for the
    system); anyone else asks for a reset, which sends its owner a link.
    """
    if actor is not None and actor.pk != staff.pk:
        raise StaffSecurityError(
            "Nobody sets another person's password: ask for a reset, which sends them a link."
        )
    if new_password is None:
        staff.set_unusable_password()
    else:
        password_validation.validate_password(new_password, staff)
        staff.set_password(new_password)
    staff.save(update_fields=["password"])
    end_staff_sessions(staff)
    record_audit_event(
        actor=actor,
        action=AuditAction.STAFF_PASSWORD_CHANGED,
        target=staff,
        summary={"username": staff.username, "usable": new_password is not None},
    )


@transaction.atomic
def set_staff_active(
    *,
    staff: StaffUser,
    actor: StaffUser | None,
    active: bool,
    reason: str = "",
    approval=None,
) -> None:
    """Enable or disable a staff account; disabling ends every session at once.

    Disabling takes one person. Re-enabling widens access, so a person does it
    only by approving another's request (``approval``, an approved
    ``StaffChangeRequest``; see ``accounts.services.staff_grants``).
    """
    if actor is not None and actor.pk == staff.pk and not active:
        raise StaffSecurityError(gettext_noop("You cannot disable your own account."))
    approved = approval is not None and (approval.staff_id, approval.kind, approval.state) == (
        staff.pk,
        "reactivate",
        "approved",
    )
    if active and actor is not None and not approved:
        raise StaffSecurityError(
            gettext_noop("Re-enabling an account needs a second person's approval: ask for it.")
        )
    changed = (
        StaffUser.objects.filter(pk=staff.pk).exclude(is_active=active).update(is_active=active)
    )
    staff.is_active = active
    end_staff_sessions(staff)
    record_audit_event(
        actor=actor,
        action=(AuditAction.STAFF_ENABLED if active else AuditAction.STAFF_DISABLED),
        target=staff,
        summary={"username": staff.username, "changed": bool(changed)},
        reason=reason,
    )


@transaction.atomic
def reveal_customer_phone(*, customer: Customer, actor: StaffUser, reason: str) -> str:
    """The full phone number of ``customer``, for a stated reason, with an audit event."""
    if not actor.has_perm("accounts.reveal_customer_phone"):
        raise StaffSecurityError(gettext_noop("You may not reveal a customer's phone number."))
    reason = reason.strip()
    if len(reason) < 10:
        raise StaffSecurityError(gettext_noop("Give a reason of at least 10 characters."))
    record_audit_event(
        actor=actor,
        action=AuditAction.CUSTOMER_PHONE_REVEALED,
        target=customer,
        summary={"phone": customer.phone_masked},
        reason=reason,
    )
    return customer.phone


@dataclass(frozen=True)
class ProvisionedSecondFactor:
    # Shown once to the person (or printed once by the demo command), never stored elsewhere.
    secret_base32: str
    provisioning_uri: str
    backup_codes: list[str]


@transaction.atomic
def provision_staff_second_factor(
    *, staff: StaffUser, actor: StaffUser | None
) -> ProvisionedSecondFactor:
    """Give ``staff`` a confirmed authenticator and backup codes, replacing any they had.

    For set-ups where the secret is handed over out of band (the demo logins);
    people normally enrol themselves. Every session of ``staff`` ends.
    """
    AuthenticatorDevice.objects.filter(user=staff).delete()
    device = AuthenticatorDevice.objects.create(user=staff, name=TOTP_DEVICE_NAME, confirmed=True)
    codes = _replace_backup_codes(staff)
    end_staff_sessions(staff)
    record_audit_event(
        actor=actor,
        action=AuditAction.STAFF_SECOND_FACTOR_PROVISIONED,
        target=staff,
        summary={"device_id": device.pk, "backup_codes": len(codes)},
    )
    return ProvisionedSecondFactor(
        secret_base32=b32encode(device.bin_key).decode().rstrip("="),
        provisioning_uri=device.config_url,
        backup_codes=codes,
    )
