"""Staff roles and the permissions each one holds.

Roles are Django groups; this table is their single source. The data migration
(and ``manage.py sync_roles``) makes the groups match it. Permissions are
named as "app_label.codename" strings so that accounts depends on no other app.
"""

from enum import StrEnum

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Role(StrEnum):
    AGENT = "agent"
    COMPLAINTS_OFFICER = "complaints officer"
    OPERATIONS = "operations"
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"
    ADMIN = "admin"


# What staff read for each role (the group names stay the codes above).
ROLE_LABELS = {
    Role.AGENT: _("Agent"),
    Role.COMPLAINTS_OFFICER: _("Complaints officer"),
    Role.OPERATIONS: _("Operations"),
    Role.SUPERVISOR: _("Supervisor"),
    Role.AUDITOR: _("Auditor"),
    Role.ADMIN: pgettext_lazy("role", "Admin"),
}


_VIEW_BOOK = {
    "accounts.view_customer",
    "accounts.view_card",
    "accounts.view_passwordchange",
    "accounts.view_passwordresetrequest",
    "accounts.view_customernotice",
    "debits.view_loan",
    "debits.view_instalment",
    "debits.view_mandate",
    "debits.view_mandatesync",
    "debits.view_debitattempt",
    "debits.view_latefee",
}
_VIEW_OPERATIONS = {
    "debits.view_debitrun",
    "debits.view_skippedinstalment",
    "debits.view_collectionpause",
    "debits.view_alert",
    "accounts.view_outboxevent",
    "django_celery_beat.view_periodictask",
    "django_celery_beat.view_crontabschedule",
}

# Reading complaints and their records (officers, supervisors, auditors).
_VIEW_COMPLAINTS = {
    "complaints.view_complaint",
    "complaints.view_complaintassignment",
    "complaints.view_deadlineextension",
    "complaints.view_compensation",
    "complaints.view_repairpromise",
    "complaints.view_complaint_report",
}
# Handling a complaint: its workflow and the one-click remedies it offers.
_HANDLE_COMPLAINTS = {
    "complaints.add_complaint",
    "complaints.handle_complaint",
    "debits.resync_mandate",
    "debits.retry_debit_attempt",
    "debits.waive_late_fee",
}

ROLE_PERMISSIONS: dict[Role, set[str]] = {
    Role.AGENT: _VIEW_BOOK
    | {"accounts.start_password_reset", "complaints.add_complaint", "complaints.view_complaint"},
    Role.COMPLAINTS_OFFICER: _VIEW_BOOK
    | _VIEW_COMPLAINTS
    | _HANDLE_COMPLAINTS
    | {"accounts.reveal_customer_phone"},
    Role.OPERATIONS: _VIEW_BOOK
    | _VIEW_OPERATIONS
    | {
        "debits.resync_mandate",
        "debits.pause_collection",
        "debits.start_debit_run",
        "debits.retry_debit_attempt",
        "debits.export_debitattempt",
        "debits.change_alert",
        "debits.view_operations_dashboard",
        "debits.use_emergency_controls",
        "django_celery_beat.change_periodictask",
        "django_celery_beat.change_crontabschedule",
        "django_celery_beat.add_crontabschedule",
    },
    Role.SUPERVISOR: _VIEW_BOOK
    | _VIEW_OPERATIONS
    | {
        "accounts.start_password_reset",
        "accounts.approve_locked_card_reset",
        "accounts.reveal_customer_phone",
        "accounts.unlock_staff",
        "accounts.approve_staff_change",
        "accounts.view_auditevent",
        "debits.resync_mandate",
        "debits.pause_collection",
        "debits.start_debit_run",
        "debits.retry_debit_attempt",
        "debits.export_debitattempt",
        "debits.change_alert",
        "debits.view_operations_dashboard",
        "debits.waive_late_fee",
        "debits.approve_fee_waiver",
    }
    | _VIEW_COMPLAINTS
    | _HANDLE_COMPLAINTS
    | {"complaints.approve_compensation", "complaints.approve_deadline_extension"},
    Role.AUDITOR: _VIEW_BOOK
    | _VIEW_OPERATIONS
    | _VIEW_COMPLAINTS
    | {
        "accounts.view_auditevent",
        "accounts.export_auditevent",
        "accounts.view_staffuser",
        # Sign-in history (successes, failures, lockouts) is part of what auditors review.
        "axes.view_accessattempt",
        "axes.view_accesslog",
        "axes.view_accessfailurelog",
    },
    Role.ADMIN: _VIEW_OPERATIONS
    | {
        "accounts.view_staffuser",
        "accounts.add_staffuser",
        "accounts.change_staffuser",
        "accounts.unlock_staff",
        "accounts.reset_staff_second_factor",
        # Role grants, re-enabling and staff password resets: asked by one admin,
        # decided by another admin or a supervisor (accounts.services.staff_grants).
        "accounts.request_staff_change",
        "accounts.approve_staff_change",
        "accounts.clear_sign_in_history",
        "accounts.view_auditevent",
        "auth.view_group",
        # Watches the system's health; acting on it is operations' decision.
        "debits.view_operations_dashboard",
        # No schedule changes: "run now" on a periodic task would start a debit
        # run, which is operations' decision (separation of duties).
    },
}


def sync_role_groups(apps=None, *, missing_ok: bool = False) -> None:
    """Make each role's group hold exactly the permissions in ROLE_PERMISSIONS.

    A data migration runs this against the roles as they are today, while the
    migration graph may not yet have created a permission another app adds in a
    later migration: migrations pass ``missing_ok`` and skip it, and the last
    role migration, which depends on every app's, syncs them all.
    """
    if apps is None:
        from django.apps import apps as live_apps

        apps = live_apps
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    # A migration early in the history runs before later apps have tables; their
    # own migrations sync the groups again once their permissions exist.
    migrated = set(ContentType.objects.values_list("app_label", flat=True).distinct())
    for role, names in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role.value)
        wanted = []
        for name in sorted(names):
            app_label, codename = name.split(".", 1)
            if app_label not in migrated:
                continue
            permission = Permission.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            if permission is None:
                if missing_ok:
                    continue
                raise LookupError(f"Permission {name} of role {role} does not exist")
            wanted.append(permission)
        group.permissions.set(wanted)


def holds_role(user, role: Role) -> bool:
    """Whether ``user`` is an active member of ``role``'s group (superusers hold every role).

    For the few actions a role owns outright rather than through a permission,
    such as pausing collection for the whole book (operations only).
    """
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return user.is_superuser or user.groups.filter(name=role.value).exists()
