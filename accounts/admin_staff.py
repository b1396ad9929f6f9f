"""The staff admin's security paths, each through the service that ends sessions.

A person changes only their own password here (through ``change_staff_password``,
which ends their other sessions); roles, the active flag, single permissions
and the superuser flag are read-only for everyone: granting a role or
re-enabling an account is asked for and approved by two people
(``accounts.services.staff_grants``), disabling is the audited action below.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import update_session_auth_hash
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.urls import reverse

from accounts.models import StaffUser
from accounts.services import change_staff_password, reset_staff_second_factor, set_staff_active
from accounts.services.staff_security import StaffSecurityError

ADMIN_REASON = "Changed in the admin"


class NewStaffForm(forms.ModelForm):
    """A new staff account without a password: nobody chooses one for another person.

    Its owner sets it from the single-use link an approved reset sends them."""

    class Meta:
        model = StaffUser
        fields = ("username", "first_name", "last_name", "email", "employee_number")

    def save(self, commit=True):
        staff = super().save(commit=False)
        staff.set_unusable_password()
        if commit:
            staff.save()
        return staff


class StaffSecurityAdminMixin:
    actions = ["reset_second_factor", "disable_staff"]
    # Roles come from groups granted under maker-checker (accounts.services.staff_grants),
    # never from single permissions or the superuser flag; re-enabling is a request too.
    ACCESS_FIELDS = ("is_superuser", "user_permissions", "groups", "is_active")

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), *self.ACCESS_FIELDS]

    def user_change_password(self, request, id, form_url=""):
        user = self.get_object(request, unquote(id))
        if user is None:
            raise Http404
        if user.pk != request.user.pk:
            # Nobody sets another person's password: an approved reset sends them a link.
            raise PermissionDenied
        if request.method != "POST":
            return super().user_change_password(request, id, form_url)
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
        update_session_auth_hash(request, user)  # keep the session that made the change
        messages.success(request, "Password changed; your other sessions have ended.")
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
