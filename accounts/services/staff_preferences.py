"""A staff member's own workspace preferences."""

from django.db import transaction

from accounts.audit import AuditAction, record_audit_event
from accounts.models import StaffUser


class StaffPreferenceError(ValueError):
    """A preference that cannot be set (an unknown language, say)."""


@transaction.atomic
def set_staff_language(*, staff: StaffUser, language: str) -> StaffUser:
    """Make ``language`` the workspace language of ``staff`` from their next page on."""
    if language not in StaffUser.Language.values:
        raise StaffPreferenceError(f"Unknown language: {language}")
    if staff.language == language:
        return staff
    before = staff.language
    staff.language = language
    staff.save(update_fields=["language"])
    record_audit_event(
        actor=staff,
        action=AuditAction.STAFF_LANGUAGE_CHANGED,
        target=staff,
        summary={"from": before, "to": language},
    )
    return staff
