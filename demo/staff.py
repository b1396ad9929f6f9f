"""Demo staff logins: one per role, for trying the back office on demo data."""

import secrets
from dataclasses import dataclass

from django.contrib.auth.models import Group
from django.db import transaction

from accounts.audit import AuditAction, record_audit_event
from accounts.models import StaffUser
from accounts.roles import Role
from accounts.services.staff_security import (
    ProvisionedSecondFactor,
    provision_staff_second_factor,
)

DEMO_STAFF: dict[Role, tuple[str, str, str]] = {
    Role.AGENT: ("demo.agent", "Li", "Na"),
    Role.COMPLAINTS_OFFICER: ("demo.complaints", "Wang", "Fang"),
    Role.OPERATIONS: ("demo.operations", "Zhang", "Wei"),
    Role.SUPERVISOR: ("demo.supervisor", "Liu", "Yang"),
    Role.AUDITOR: ("demo.auditor", "Chen", "Jing"),
    Role.ADMIN: ("demo.admin", "Zhao", "Lei"),
}


@dataclass(frozen=True)
class DemoStaffLogin:
    role: Role
    user: StaffUser
    created: bool
    # Set only when this call chose the password; it is shown once and not kept.
    password: str | None
    # With a new password the login also gets a fresh authenticator secret and
    # backup codes (shown once), so a newcomer can pass the second factor.
    second_factor: ProvisionedSecondFactor | None = None


def _new_password() -> str:
    return secrets.token_urlsafe(15)


@transaction.atomic
def create_demo_staff(*, reset_passwords: bool = False) -> list[DemoStaffLogin]:
    """Make sure each role has its demo login; new ones (or all, on reset) get a fresh
    random password, returned for the caller to show once."""
    logins = []
    for role, (username, first_name, last_name) in DEMO_STAFF.items():
        group = Group.objects.get(name=role.value)
        user, created = StaffUser.objects.get_or_create(
            username=username,
            defaults={
                "first_name": first_name,
                "last_name": last_name,
                "email": f"{username}@bank.example",
                "employee_number": f"DEMO-{len(logins) + 1:03d}",
                "is_staff": True,
            },
        )
        if user.is_superuser:
            # No shipped login is a superuser: roles come from groups only (an older
            # demo made the admin login one; it is demoted here).
            StaffUser.objects.filter(pk=user.pk).update(is_superuser=False)
            user.is_superuser = False
            record_audit_event(
                actor=None,
                actor_label="system",
                action=AuditAction.STAFF_SUPERUSER_REMOVED,
                target=user,
                summary={"username": username},
            )
        password = None
        if created or reset_passwords:
            password = _new_password()
            user.set_password(password)
            # A new password ends every open session of the old one.
            user.session_generation += 1
            user.save(update_fields=["password", "session_generation"])
            user.groups.add(group)
            record_audit_event(
                actor=None,
                actor_label="system",
                action=AuditAction.STAFF_DEMO_LOGIN_CREATED
                if created
                else AuditAction.STAFF_DEMO_PASSWORD_RESET,
                target=user,
                summary={"role": role.value, "username": username},
            )
        second_factor = None
        if password is not None:
            second_factor = provision_staff_second_factor(staff=user, actor=None)
        logins.append(
            DemoStaffLogin(
                role=role,
                user=user,
                created=created,
                password=password,
                second_factor=second_factor,
            )
        )
    return logins
