"""Staff security actions: second factor, lockout, sessions, account state, phone reveal.

Every change to what lets a person in (password, second factor, active flag)
bumps ``StaffUser.session_generation``; it is part of the session hash, so each
of that person's open sessions ends on its next request.
"""

from __future__ import annotations

import secrets
from base64 import b32encode
from dataclasses import dataclass

from django.contrib.auth import password_validation
from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext_noop
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.audit import AuditAction, record_audit_event
from accounts.models import Customer, StaffUser

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
    device: TOTPDevice
    # The otpauth:// URI carries the shared secret: shown once, never stored elsewhere.
    provisioning_uri: str


def _bump_session_generation(staff: StaffUser) -> None:
    StaffUser.objects.filter(pk=staff.pk).update(session_generation=F("session_generation") + 1)
    staff.refresh_from_db(fields=["session_generation"])


def has_confirmed_second_factor(staff: StaffUser) -> bool:
    return TOTPDevice.objects.filter(user=staff, confirmed=True).exists()


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
    TOTPDevice.objects.filter(user=staff, confirmed=False).delete()
    device = TOTPDevice.objects.create(user=staff, name=TOTP_DEVICE_NAME, confirmed=False)
    record_audit_event(
        actor=staff,
        action=AuditAction.STAFF_SECOND_FACTOR_ENROLMENT_STARTED,
        target=staff,
        summary={"device_id": device.pk},
    )
    return TotpEnrolment(device=device, provisioning_uri=device.config_url)


def confirm_totp_enrolment(*, staff: StaffUser, token: str) -> tuple[TOTPDevice, list[str]]:
    """Confirm the pending authenticator with a valid code; returns it and new backup codes.

    The backup codes are returned once and only their single-use tokens are kept.
    Ends every other session of ``staff`` (the factor changed). A wrong code is
    audited in its own committed transaction before the error is raised, so the
    record of the failure is not rolled back with it.
    """
    with transaction.atomic():
        device = (
            TOTPDevice.objects.select_for_update()
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
            _bump_session_generation(staff)
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
    StaticDevice.objects.filter(user=staff).delete()
    device = StaticDevice.objects.create(user=staff, name=BACKUP_DEVICE_NAME, confirmed=True)
    codes = [_new_backup_code() for _ in range(BACKUP_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


@transaction.atomic
def verify_staff_second_factor(*, staff: StaffUser, token: str):
    """The confirmed device (authenticator or backup code) that accepts ``token``, or None.

    A backup code is consumed by the match. Both outcomes are audited; counting a
    failure towards lockout is the caller's job (it holds the request).
    """
    token = token.strip().replace(" ", "")
    matched = None
    if token:
        for model in (TOTPDevice, StaticDevice):
            for device in model.objects.filter(user=staff, confirmed=True):
                if device.verify_token(token):
                    matched = device
                    break
            if matched:
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
    totp_deleted, _ = TOTPDevice.objects.filter(user=staff).delete()
    static_deleted, _ = StaticDevice.objects.filter(user=staff).delete()
    _bump_session_generation(staff)
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
    """Set (or, with None, disable) a staff password; every session of ``staff`` ends."""
    if new_password is None:
        staff.set_unusable_password()
    else:
        password_validation.validate_password(new_password, staff)
        staff.set_password(new_password)
    staff.save(update_fields=["password"])
    _bump_session_generation(staff)
    record_audit_event(
        actor=actor,
        action=AuditAction.STAFF_PASSWORD_CHANGED,
        target=staff,
        summary={"username": staff.username, "usable": new_password is not None},
    )


@transaction.atomic
def set_staff_active(
    *, staff: StaffUser, actor: StaffUser | None, active: bool, reason: str = ""
) -> None:
    """Enable or disable a staff account; disabling ends every session at once."""
    if actor is not None and actor.pk == staff.pk and not active:
        raise StaffSecurityError(gettext_noop("You cannot disable your own account."))
    changed = (
        StaffUser.objects.filter(pk=staff.pk).exclude(is_active=active).update(is_active=active)
    )
    staff.is_active = active
    _bump_session_generation(staff)
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
    TOTPDevice.objects.filter(user=staff).delete()
    device = TOTPDevice.objects.create(user=staff, name=TOTP_DEVICE_NAME, confirmed=True)
    codes = _replace_backup_codes(staff)
    _bump_session_generation(staff)
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
