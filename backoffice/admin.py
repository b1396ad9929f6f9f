"""Permission checks for the admin actions that third-party apps ship without any.

django-celery-beat's task actions are offered to anyone who can open the list;
here each one requires the model permission it exercises, like every action of
ours does (``@admin.action(permissions=...)``). django-axes' records cannot be
deleted here at all.
"""

from axes.admin import AccessAttemptAdmin, AccessFailureLogAdmin, AccessLogAdmin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django_celery_beat.admin import PeriodicTaskAdmin
from django_celery_beat.models import PeriodicTask
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice


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


class GuardedPeriodicTaskAdmin(ActionPermissionsMixin, PeriodicTaskAdmin):
    action_permissions = {
        "enable_tasks": "change",
        "disable_tasks": "change",
        "toggle_tasks": "change",
        "run_tasks": "change",
    }


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
