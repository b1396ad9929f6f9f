"""Staff access changes under maker-checker, and a staff member's own reset link.

One admin asks (``request_staff_change``), another admin or a supervisor
decides (``approve_staff_change`` / ``reject_staff_change``). The reset link
works like the customers' one: the first request moves the token's
fingerprint into the session and redirects to a token-free page.
"""

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import StaffChangeRequest
from accounts.rate_limits import RESET_LINK_PAGE, limit_by_client_address
from accounts.roles import ROLE_LABELS, Role
from accounts.services.staff_grants import (
    StaffChangeRefused,
    StaffResetLinkInvalid,
    approve_staff_change,
    check_staff_reset_link,
    complete_staff_password_reset,
    reject_staff_change,
    request_staff_change,
    staff_reset_token_fingerprint,
)
from backoffice.permissions import staff_permission_required
from backoffice.ui.service_errors import translated

StaffUser = get_user_model()
STAFF_RESET_SESSION_KEY = "staff_password_reset_fingerprint"


class StaffChangeRequestForm(forms.Form):
    kind = forms.ChoiceField(label=_("Change"), choices=StaffChangeRequest.Kind.choices)
    role = forms.ChoiceField(
        label=_("Role (for a grant)"),
        choices=[("", "—"), *((role.value, ROLE_LABELS[role]) for role in Role)],
        required=False,
    )
    reason = forms.CharField(
        label=_("Reason"), max_length=500, min_length=10, widget=forms.Textarea(attrs={"rows": 3})
    )


class StaffChangeDecisionForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("Decision"), choices=[("approve", _("Approve")), ("reject", _("Reject"))]
    )
    reason = forms.CharField(
        label=_("Reason"), max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


@staff_permission_required("accounts.approve_staff_change")
def staff_changes(request):
    """Requests waiting for a second person, and the latest decisions."""
    recent = StaffChangeRequest.objects.select_related("staff", "requested_by", "decided_by")
    return render(
        request,
        "backoffice/signin/staff_changes.html",
        {
            "pending": recent.filter(state=StaffChangeRequest.State.PENDING).order_by(
                "requested_at"
            ),
            "decided": recent.exclude(state=StaffChangeRequest.State.PENDING).order_by(
                "-decided_at"
            )[:50],
            "decision_form": StaffChangeDecisionForm(),
        },
    )


@staff_permission_required("accounts.request_staff_change")
@require_http_methods(["GET", "POST"])
def ask_for_staff_change(request, pk: int):
    staff = get_object_or_404(StaffUser, pk=pk)
    form = StaffChangeRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            request_staff_change(
                staff=staff,
                kind=form.cleaned_data["kind"],
                role=form.cleaned_data["role"],
                actor=request.user,
                reason=form.cleaned_data["reason"],
            )
        except StaffChangeRefused as error:
            form.add_error(None, str(error))
        else:
            messages.success(
                request, gettext("Asked; a second person must approve before it applies.")
            )
            return redirect("signin:staff_list")
    return render(
        request, "backoffice/signin/ask_for_staff_change.html", {"staff": staff, "form": form}
    )


@require_POST
@staff_permission_required("accounts.approve_staff_change")
def decide_staff_change(request, pk: int):
    change = get_object_or_404(StaffChangeRequest, pk=pk)
    if request.user.pk in {change.requested_by_id, change.staff_id}:
        # Maker-checker: the person who asked, or whom it is about, never decides.
        raise PermissionDenied
    form = StaffChangeDecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, gettext("Choose approve or reject."))
        return redirect("signin:staff_changes")
    try:
        if form.cleaned_data["decision"] == "approve":
            approved = approve_staff_change(
                change_request=change, approver=request.user, reason=form.cleaned_data["reason"]
            )
            if approved.link_delivery is not None and approved.link_delivery.failed:
                messages.error(
                    request,
                    gettext(
                        "Approved: %(username)s's old password no longer works, but the "
                        "notification gateway did not accept the reset link, so it was not "
                        "sent. Ask for a new password reset once the gateway is back."
                    )
                    % {"username": change.staff.username},
                )
            else:
                messages.success(
                    request,
                    gettext("Approved and applied: %(change)s.")
                    % {"change": change.get_kind_display()},
                )
        else:
            reject_staff_change(
                change_request=change, approver=request.user, reason=form.cleaned_data["reason"]
            )
            messages.success(request, gettext("Rejected."))
    except StaffChangeRefused as error:
        messages.error(request, translated(error))
    return redirect("signin:staff_changes")


# --- A staff member's own reset link (no sign-in) --------------------------------


class NewStaffPasswordForm(forms.Form):
    password = forms.CharField(
        label=_("New password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    confirmation = forms.CharField(
        label=_("Type it again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("password") != cleaned.get("confirmation"):
            raise forms.ValidationError(_("The two passwords do not match."))
        return cleaned


@never_cache
@limit_by_client_address(RESET_LINK_PAGE)
def staff_password_reset_link(request, token: str):
    request.session[STAFF_RESET_SESSION_KEY] = staff_reset_token_fingerprint(token[:200])
    return redirect("signin:staff_password_reset_form")


@never_cache
@limit_by_client_address(RESET_LINK_PAGE, methods=("POST",))
@require_http_methods(["GET", "POST"])
def staff_password_reset_form(request):
    fingerprint = request.session.get(STAFF_RESET_SESSION_KEY, "")
    try:
        reset = check_staff_reset_link(token_fingerprint=fingerprint)
    except StaffResetLinkInvalid as error:
        request.session.pop(STAFF_RESET_SESSION_KEY, None)
        return render(
            request, "backoffice/signin/staff_password_reset.html", {"invalid": str(error)}
        )
    form = NewStaffPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            complete_staff_password_reset(
                token_fingerprint=fingerprint, new_password=form.cleaned_data["password"]
            )
        except ValidationError as error:
            form.add_error("password", error)
        except StaffResetLinkInvalid as error:
            return render(
                request, "backoffice/signin/staff_password_reset.html", {"invalid": str(error)}
            )
        else:
            request.session.pop(STAFF_RESET_SESSION_KEY, None)
            messages.success(request, gettext("Password set; sign in with it."))
            return redirect("login")
    return render(
        request,
        "backoffice/signin/staff_password_reset.html",
        {"form": form, "username": reset.staff.username},
    )
