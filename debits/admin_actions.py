"""Admin actions of the debit engine: re-sync mandates, retry failed attempts, pause
and resume collection.

They call the same services as the staff pages; pausing and resuming ask for the
reason on an intermediate page, as the audit trail needs one.
"""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse

from debits.forms import ReasonForm
from debits.models import CollectionPause, MandateSync
from debits.selectors import attempts_not_retried, not_retried_messages
from debits.services import (
    CollectionControlError,
    DebitRunError,
    MandateNotResyncable,
    pause_collection,
    resume_collection,
    resync_mandate,
    retry_debit_attempts,
)

# One click changes at most this many rows, whichever action it is. 50, not more:
# re-sync calls the gateway once per mandate inside the request, so the strictest
# action sets the bound and staff learn one number; larger changes belong in the
# run pages and the Celery jobs.
ADMIN_ACTION_LIMIT = 50


def _too_many(modeladmin, request, queryset) -> bool:
    # A sliced count stops at the limit instead of counting a whole "select all".
    if queryset.order_by()[: ADMIN_ACTION_LIMIT + 1].count() > ADMIN_ACTION_LIMIT:
        modeladmin.message_user(
            request, f"Select at most {ADMIN_ACTION_LIMIT} rows at once.", messages.ERROR
        )
        return True
    return False


@admin.action(description="Re-sync selected mandates now", permissions=["resync_mandate"])
def resync_mandates_action(modeladmin, request, queryset):
    if _too_many(modeladmin, request, queryset):
        return
    mandates = list(queryset.select_related("card").order_by("pk"))
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


@admin.action(description="Retry selected failed attempts now", permissions=["retry_debit_attempt"])
def retry_debit_attempts_action(modeladmin, request, queryset):
    if _too_many(modeladmin, request, queryset):
        return
    ids = list(queryset.values_list("pk", flat=True))
    try:
        run = retry_debit_attempts(attempts=queryset, actor=request.user)
    except DebitRunError as exc:
        modeladmin.message_user(request, str(exc), messages.ERROR)
        run = None
    else:
        modeladmin.message_user(
            request,
            f"Retry run #{run.pk}: {run.selected_count} to collect, {run.skipped_count} skipped.",
            messages.SUCCESS if run.selected_count else messages.ERROR,
        )
    for text in not_retried_messages(attempts_not_retried(run=run, attempt_ids=ids)):
        modeladmin.message_user(request, text, messages.WARNING)


def _with_reason(modeladmin, request, queryset, *, title: str, apply):
    """Ask for the reason first; then ``apply(obj, reason)`` for each selected row."""
    form = ReasonForm(request.POST if "apply" in request.POST else None)
    if "apply" in request.POST and form.is_valid():
        done, refused = 0, []
        for obj in queryset:
            try:
                apply(obj, form.cleaned_data["reason"])
                done += 1
            except CollectionControlError as exc:
                refused.append(f"{obj}: {exc}")
        level = messages.WARNING if refused else messages.SUCCESS
        modeladmin.message_user(request, f"{title}: {done} done. " + "; ".join(refused), level)
        return None
    return TemplateResponse(
        request,
        "admin/debits/collection_reason.html",
        {
            **modeladmin.admin_site.each_context(request),
            "title": title,
            "form": form,
            "objects": queryset,
            "action_name": request.POST.get("action"),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "opts": modeladmin.model._meta,
        },
    )


@admin.action(
    description="Pause collection for selected mandates", permissions=["pause_collection"]
)
def pause_mandates_action(modeladmin, request, queryset):
    if _too_many(modeladmin, request, queryset):
        return None
    return _with_reason(
        modeladmin,
        request,
        queryset,
        title="Pause collection",
        apply=lambda mandate, reason: pause_collection(
            scope=CollectionPause.Scope.MANDATE, mandate=mandate, reason=reason, actor=request.user
        ),
    )


@admin.action(description="Resume collection for selected pauses", permissions=["pause_collection"])
def resume_pauses_action(modeladmin, request, queryset):
    if _too_many(modeladmin, request, queryset):
        return None
    return _with_reason(
        modeladmin,
        request,
        queryset.filter(resumed_at__isnull=True).select_related("card", "mandate"),
        title="Resume collection",
        apply=lambda pause, reason: resume_collection(
            scope=pause.scope,
            card=pause.card,
            mandate=pause.mandate,
            reason=reason,
            actor=request.user,
        ),
    )


class RetryDebitAttemptsAdminMixin:
    actions = (retry_debit_attempts_action,)

    def has_retry_debit_attempt_permission(self, request) -> bool:
        return request.user.has_perm("debits.retry_debit_attempt")


class PauseCollectionAdminMixin:
    def has_pause_collection_permission(self, request) -> bool:
        return request.user.has_perm("debits.pause_collection")


class MandateResyncAdminMixin:
    actions = (resync_mandates_action,)

    def has_resync_mandate_permission(self, request) -> bool:
        return request.user.has_perm("debits.resync_mandate")
