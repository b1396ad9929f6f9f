"""Admin action on mandates: re-sync now, through the same service as the card page."""

from django.contrib import admin, messages

from debits.models import MandateSync
from debits.services import MandateNotResyncable, resync_mandate

# A staff action calls the gateway in the request: keep one click bounded.
RESYNC_ACTION_LIMIT = 50


@admin.action(description="Re-sync selected mandates now", permissions=["resync_mandate"])
def resync_mandates_action(modeladmin, request, queryset):
    mandates = list(queryset.select_related("card").order_by("pk")[: RESYNC_ACTION_LIMIT + 1])
    if len(mandates) > RESYNC_ACTION_LIMIT:
        modeladmin.message_user(
            request, f"Select at most {RESYNC_ACTION_LIMIT} mandates at once.", messages.ERROR
        )
        return
    counts: dict[str, int] = {}
    for mandate in mandates:
        try:
            outcome = resync_mandate(
                mandate=mandate, trigger=MandateSync.Trigger.MANUAL, actor=request.user
            ).outcome
        except MandateNotResyncable:
            outcome = "not live"
        counts[outcome] = counts.get(outcome, 0) + 1
    summary = ", ".join(f"{label}: {n}" for label, n in sorted(counts.items()))
    level = messages.WARNING if counts.get(MandateSync.Outcome.FAILED) else messages.SUCCESS
    modeladmin.message_user(request, f"Re-sync done ({summary}).", level)


class MandateResyncAdminMixin:
    actions = (resync_mandates_action,)

    def has_resync_mandate_permission(self, request) -> bool:
        return request.user.has_perm("debits.resync_mandate")
