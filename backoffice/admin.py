"""Third-party admin pages made to keep our rules.

- django-celery-beat's task actions are offered to anyone who can open the
  list; here each one requires the model permission it exercises, like every
  action of ours does (``@admin.action(permissions=...)``).
- django-celery-beat's schedule pages describe a crontab through celery's
  parser, which raises on a malformed field ("-1", "1,,2") that the form has
  just refused, so the refusal became an error page; and its task form took
  any JSON as the arguments, which "Run selected tasks" then failed on.
- django-axes' records cannot be deleted here at all.
"""

import json

from axes.admin import AccessAttemptAdmin, AccessFailureLogAdmin, AccessLogAdmin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django import forms
from django.contrib import admin, messages
from django_celery_beat.admin import CrontabScheduleAdmin, PeriodicTaskAdmin, PeriodicTaskForm
from django_celery_beat.models import CrontabSchedule, PeriodicTask
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

# Task arguments are ids and flags; anything longer is not ours.
TASK_ARGUMENTS_MAX_LENGTH = 2000


class ActionPermissionsMixin:
    # action name -> the model permission ("change", "delete", ...) it needs.
    action_permissions: dict[str, str] = {}

    def get_actions(self, request):
        actions = super().get_actions(request)
        return {
            name: action
            for name, action in actions.items()
            if name not in self.action_permissions
            or getattr(self, f"has_{self.action_permissions[name]}_permission")(request)
        }


def crontab_description(crontab: CrontabSchedule) -> str:
    """The schedule in words, or a plain notice when a stored field does not parse."""
    try:
        return crontab.human_readable
    except Exception:  # celery's ParseException and friends: the row is malformed
        return "Not a valid schedule"


def task_arguments(text: str, kind: type) -> list | dict:
    """``text`` parsed as a task's JSON ``args`` (a list) or ``kwargs`` (an object)."""
    if len(text) > TASK_ARGUMENTS_MAX_LENGTH:
        raise ValueError(f"longer than {TASK_ARGUMENTS_MAX_LENGTH} characters")
    try:
        value = json.loads(text or ("[]" if kind is list else "{}"))
    except RecursionError as exc:
        raise ValueError("nested too deeply") from exc
    if not isinstance(value, kind):
        raise ValueError("a JSON list is needed" if kind is list else "a JSON object is needed")
    return value


class CheckedPeriodicTaskForm(PeriodicTaskForm):
    def _checked(self, field: str, kind: type) -> str:
        value = self.cleaned_data[field]
        try:
            task_arguments(value, kind)
        except ValueError as exc:
            raise forms.ValidationError(f"Not valid task arguments: {exc}") from exc
        return value

    def clean_args(self):
        return self._checked("args", list)

    def clean_kwargs(self):
        return self._checked("kwargs", dict)


class GuardedPeriodicTaskAdmin(ActionPermissionsMixin, PeriodicTaskAdmin):
    form = CheckedPeriodicTaskForm
    action_permissions = {
        "enable_tasks": "change",
        "disable_tasks": "change",
        "toggle_tasks": "change",
        "run_tasks": "change",
    }

    @admin.display(description="Crontab in words")
    def crontab_translation(self, obj):
        return crontab_description(obj.crontab) if obj.crontab else ""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # django-celery-beat's own version describes every crontab unguarded.
        extra_context = {
            **(extra_context or {}),
            "readable_crontabs": {
                crontab.id: crontab_description(crontab)
                for crontab in CrontabSchedule.objects.all()
            },
        }
        return admin.ModelAdmin.changeform_view(
            self, request, object_id, form_url, extra_context=extra_context
        )

    @admin.action(description="Run selected tasks")
    def run_tasks(self, request, queryset):
        for task in queryset:
            try:
                task_arguments(task.args, list)
                task_arguments(task.kwargs, dict)
            except ValueError as exc:
                self.message_user(
                    request,
                    f'Task "{task.name}" has arguments that are not valid: {exc}',
                    messages.ERROR,
                )
                return None
        return super().run_tasks(request, queryset)


class GuardedCrontabScheduleAdmin(CrontabScheduleAdmin):
    list_display = ("__str__", "schedule_in_words")
    fields = (
        "schedule_in_words",
        "minute",
        "hour",
        "day_of_month",
        "month_of_year",
        "day_of_week",
        "timezone",
    )
    readonly_fields = ("schedule_in_words",)

    @admin.display(description="Human readable")
    def schedule_in_words(self, obj: CrontabSchedule) -> str:
        return crontab_description(obj)


class SignInHistoryAdminMixin:
    """Sign-in history and lockouts are evidence: nobody deletes them here, superusers
    included (no delete page, no bulk delete, no clean-up action). Old rows go through
    ``accounts.services.clear_sign_in_history``, with a reason, audited."""

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        return {}


class GuardedAccessAttemptAdmin(SignInHistoryAdminMixin, AccessAttemptAdmin):
    pass


class GuardedAccessLogAdmin(SignInHistoryAdminMixin, AccessLogAdmin):
    pass


class GuardedAccessFailureLogAdmin(SignInHistoryAdminMixin, AccessFailureLogAdmin):
    pass


for _model, _model_admin in (
    (PeriodicTask, GuardedPeriodicTaskAdmin),
    (CrontabSchedule, GuardedCrontabScheduleAdmin),
    (AccessAttempt, GuardedAccessAttemptAdmin),
    (AccessLog, GuardedAccessLogAdmin),
    (AccessFailureLog, GuardedAccessFailureLogAdmin),
):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
    admin.site.register(_model, _model_admin)

# django-otp's device admins show a person's TOTP secret (its QR code) and
# backup codes to any superuser, which would let them pass as that person.
# Devices change only through the staff-security services (enrol, reset).
for _model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
