"""Reads of the staff security pages."""


def locked_out_logins():
    """django-axes records at or over the failure limit, newest first."""
    from axes.models import AccessAttempt
    from django.conf import settings

    return AccessAttempt.objects.filter(
        failures_since_start__gte=settings.AXES_FAILURE_LIMIT
    ).order_by("-attempt_time")


def staff_with_second_factor_state():
    """Every staff member with whether a confirmed authenticator is enrolled."""
    from django.db.models import Exists, OuterRef

    from accounts.models import AuthenticatorDevice, StaffUser

    enrolled = AuthenticatorDevice.objects.filter(user=OuterRef("pk"), confirmed=True)
    return (
        StaffUser.objects.annotate(has_second_factor=Exists(enrolled))
        .prefetch_related("groups")
        .order_by("username")
    )
