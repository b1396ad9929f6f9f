"""The staff admin's security paths, each through the service that ends sessions.

Saving a password or the active flag in the admin goes through
``change_staff_password`` / ``set_staff_active`` (not a signal), so every open
session of that person ends and the change is audited like anywhere else.
Only a superuser may make superusers or grant permissions outside the roles.
"""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import update_session_auth_hash
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.urls import reverse

from accounts.services import change_staff_password, reset_staff_second_factor, set_staff_active
from accounts.services.staff_security import StaffSecurityError

ADMIN_REASON = "Changed in the admin"


class StaffSecurityAdminMixin:
    actions = ["reset_second_factor", "disable_staff"]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += ["is_superuser", "user_permissions"]
            if obj is not None and obj.pk == request.user.pk:
                # Nobody grants themselves a role or re-enables themselves.
                fields += ["groups", "is_active"]
        return fields

    def save_model(self, request, obj, form, change):
        if not (change and "is_active" in form.changed_data):
            return super().save_model(request, obj, form, change)
        wanted = obj.is_active
        obj.is_active = not wanted  # the service makes the change and ends the sessions
        super().save_model(request, obj, form, change)
        try:
            set_staff_active(staff=obj, actor=request.user, active=wanted, reason=ADMIN_REASON)
        except StaffSecurityError as error:
            messages.error(request, str(error))
        return None

    def user_change_password(self, request, id, form_url=""):
        if request.method != "POST":
            return super().user_change_password(request, id, form_url)
        user = self.get_object(request, unquote(id))
        if user is None:
            raise Http404
        if not self.has_change_permission(request, user):
            raise PermissionDenied
        form = self.change_password_form(user, request.POST)
        if not form.is_valid():
            return super().user_change_password(request, id, form_url)  # renders the errors
        usable = form.cleaned_data.get("set_usable_password", True)
        if not usable and "unset-password" not in request.POST:
            return super().user_change_password(request, id, form_url)
        change_staff_password(
            staff=user,
            actor=request.user,
            new_password=form.cleaned_data["password1"] if usable else None,
        )
        if user.pk == request.user.pk:
            update_session_auth_hash(request, user)  # keep the session that made the change
        messages.success(request, "Password changed; every session of this person has ended.")
        return HttpResponseRedirect(
            reverse(f"{self.admin_site.name}:accounts_staffuser_change", args=(user.pk,))
        )

    def has_reset_second_factor_permission(self, request) -> bool:
        return request.user.has_perm("accounts.reset_staff_second_factor")

    @admin.action(
        description="Reset second factor (they enrol again at sign-in)",
        permissions=["reset_second_factor"],
    )
    def reset_second_factor(self, request, queryset):
        for staff in queryset:
            reset_staff_second_factor(staff=staff, actor=request.user, reason=ADMIN_REASON)
        messages.success(request, f"Second factor reset for {len(queryset)} staff member(s).")

    @admin.action(
        description="Disable selected staff (ends their sessions)", permissions=["change"]
    )
    def disable_staff(self, request, queryset):
        for staff in queryset:
            try:
                set_staff_active(staff=staff, actor=request.user, active=False, reason=ADMIN_REASON)
            except StaffSecurityError as error:
                messages.error(request, str(error))
