"""System checks run by ``manage.py check --deploy`` (and CI): nobody is a superuser at work.

Roles come from groups; a superuser bypasses every one of them. In production
any active superuser without a live break-glass grant is an error; one with a
live grant is a warning (an incident is under way), so ``--fail-level WARNING``
stops a deployment during it.
"""

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.db import DatabaseError


@register(Tags.security, deploy=True)
def check_no_superuser_at_work(app_configs=None, **kwargs):
    if settings.DEBUG:
        return []
    from accounts.models import StaffUser
    from accounts.services.break_glass import has_live_break_glass

    try:
        superusers = list(StaffUser.objects.filter(is_active=True, is_superuser=True))
    except DatabaseError:
        # No database (or not migrated yet): there is no staff account to be one.
        return []
    messages = []
    for staff in superusers:
        if has_live_break_glass(staff):
            messages.append(
                Warning(
                    f"{staff.username} holds break-glass superuser rights right now.",
                    hint="They end by themselves; `manage.py break_glass --end` ends them now.",
                    id="accounts.W001",
                )
            )
        else:
            messages.append(
                Error(
                    f"Active staff account {staff.username} is a superuser.",
                    hint="Give roles through groups; `manage.py break_glass --end "
                    f"{staff.username}` removes the flag (audited).",
                    id="accounts.E001",
                )
            )
    return messages
