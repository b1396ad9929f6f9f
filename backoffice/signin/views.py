"""Staff sign-in with a mandatory second factor, enrolment, unlock and factor reset.

Sign-in is two steps. The password step (Django's LoginView, guarded by
django-axes) signs the person in *unverified*; ``StaffSessionMiddleware`` then
lets an unverified session reach nothing but the code step or, for someone
without a confirmed authenticator, the enrolment page. A wrong code is a
failed login for django-axes, so it counts towards the same lockout.
"""

from base64 import b32encode

import segno
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_ip_address, get_lockout_response
from django.contrib import messages
from django.contrib.auth import get_user_model, logout, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.signals import user_login_failed
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login

from accounts.services import (
    confirm_totp_enrolment,
    reset_staff_second_factor,
    start_totp_enrolment,
    unlock_staff,
    verify_staff_second_factor,
)
from accounts.services.staff_security import (
    StaffSecurityError,
    has_confirmed_second_factor,
    looks_like_authenticator_code,
    second_factor_wait_seconds,
)
from backoffice.permissions import staff_permission_required
from backoffice.signin.forms import SecondFactorForm, StaffActionForm, StaffLoginForm, UnlockForm
from backoffice.signin.selectors import locked_out_logins, staff_with_second_factor_state
from backoffice.signin.session import remind_of_unsent_form, second_factor_step
from backoffice.ui.redirects import requested_next_path
from backoffice.ui.service_errors import translated

StaffUser = get_user_model()


def _safe_next(request, default: str = "") -> str:
    """Only a same-site relative path is followed after sign-in."""
    return requested_next_path(request, default)


def _with_next(url: str, next_url: str) -> str:
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


class StaffLoginView(auth_views.LoginView):
    """The password step. On success the session is signed in but not yet verified."""

    template_name = "backoffice/signin/login.html"
    authentication_form = StaffLoginForm
    redirect_authenticated_user = False

    def get_redirect_url(self):
        return _safe_next(self.request)

    def get_success_url(self):
        next_url = self.get_redirect_url()  # already checked against allowed hosts
        return _with_next(reverse(second_factor_step(self.request.user)), next_url)


def _count_failed_code(request, user) -> bool:
    """Report a wrong code to django-axes; True when this person is now locked out."""
    credentials = {"username": user.get_username()}
    user_login_failed.send(sender=__name__, credentials=credentials, request=request)
    return bool(getattr(request, "axes_locked_out", False)) or AxesProxyHandler.is_locked(
        request, credentials
    )


def _locked_out(request, user):
    credentials = {"username": user.get_username()}
    logout(request)
    return get_lockout_response(request, None, credentials)


@never_cache
@require_http_methods(["GET", "POST"])
def verify_second_factor(request):
    """The code step: a TOTP code or a single-use backup code completes sign-in."""
    user = request.user
    if not user.is_authenticated:
        return redirect("login")
    next_url = _safe_next(request, reverse("dashboard"))
    if user.is_verified():
        return HttpResponseRedirect(next_url)
    if not has_confirmed_second_factor(user):
        return redirect(_with_next(reverse("signin:enrol"), next_url))
    if AxesProxyHandler.is_locked(request, {"username": user.get_username()}):
        return _locked_out(request, user)
    form = SecondFactorForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        # Asked first: a throttled authenticator refuses even the right code unchecked.
        token = form.cleaned_data["otp_token"]
        throttled = (
            looks_like_authenticator_code(token) and second_factor_wait_seconds(staff=user) > 0
        )
        device = verify_staff_second_factor(staff=user, token=form.cleaned_data["otp_token"])
        if device is not None:
            otp_login(request, device)
            # A new session key for the verified session: one learned before the
            # code (fixation, a shoulder-surfed cookie) is worth nothing after it.
            request.session.cycle_key()
            # Failures are cleared only once both factors passed (not after the
            # password alone), so a known password does not buy more code guesses.
            AxesProxyHandler.reset_attempts(
                ip_address=get_client_ip_address(request), username=user.get_username()
            )
            remind_of_unsent_form(request)
            return HttpResponseRedirect(next_url)
        if _count_failed_code(request, user):
            return _locked_out(request, user)
        if throttled:
            form.add_error(
                "otp_token",
                _(
                    "Too many codes in a row: wait a few seconds, then enter the code "
                    "your app shows."
                ),
            )
        else:
            form.add_error("otp_token", "That code is not valid.")
    return render(request, "backoffice/signin/verify.html", {"form": form, "next": next_url})


@never_cache  # the page holds a secret (QR code, key) or the backup codes
@require_http_methods(["GET", "POST"])
def enrol_second_factor(request):
    """Enrol an authenticator: the QR code is shown once, confirmed by a valid code."""
    user = request.user
    if not user.is_authenticated:
        return redirect("login")
    next_url = _safe_next(request, reverse("dashboard"))
    if has_confirmed_second_factor(user):
        return redirect(_with_next(reverse("signin:verify"), next_url))
    if AxesProxyHandler.is_locked(request, {"username": user.get_username()}):
        return _locked_out(request, user)
    form = SecondFactorForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device, backup_codes = confirm_totp_enrolment(
                staff=user, token=form.cleaned_data["otp_token"]
            )
        except StaffSecurityError as error:
            if _count_failed_code(request, user):
                return _locked_out(request, user)
            form.add_error("otp_token", translated(error))
        else:
            # The factor changed, which ended every session; keep this one.
            update_session_auth_hash(request, user)
            otp_login(request, device)
            request.session.cycle_key()  # as after the code step
            return render(
                request,
                "backoffice/signin/backup_codes.html",
                {"backup_codes": backup_codes, "next": next_url},
            )
        # The secret is not shown again; the app that scanned it gives the next code.
        return render(
            request,
            "backoffice/signin/enrol.html",
            {"form": form, "qr_data_uri": None, "next": next_url},
        )
    enrolment = start_totp_enrolment(staff=user)
    qr = segno.make(enrolment.provisioning_uri, error="m")
    return render(
        request,
        "backoffice/signin/enrol.html",
        {
            "form": SecondFactorForm(),
            "qr_data_uri": qr.svg_data_uri(scale=5, border=2),
            "secret": b32encode(enrolment.device.bin_key).decode().rstrip("="),
            "next": next_url,
        },
    )


# --- Supervisor and admin pages ---------------------------------------------------


@staff_permission_required("accounts.unlock_staff")
@require_http_methods(["GET", "POST"])
def locked_staff(request):
    """Logins django-axes has locked out, each with an unlock form."""
    form = UnlockForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        username = form.cleaned_data["username"]
        unlock_staff(username=username, actor=request.user, reason=form.cleaned_data["reason"])
        messages.success(request, _("Unlocked %(username)s.") % {"username": username})
        return redirect("signin:locked_staff")
    return render(
        request,
        "backoffice/signin/locked_staff.html",
        {"attempts": locked_out_logins(), "form": form},
    )


@staff_permission_required("accounts.reset_staff_second_factor")
@require_http_methods(["GET", "POST"])
def reset_second_factor(request, pk: int):
    staff = get_object_or_404(StaffUser, pk=pk)
    form = StaffActionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        reset_staff_second_factor(
            staff=staff, actor=request.user, reason=form.cleaned_data["reason"]
        )
        messages.success(
            request,
            _("%(username)s's second factor was removed; they enrol again at sign-in.")
            % {"username": staff.username},
        )
        return redirect("signin:staff_list")
    return render(
        request, "backoffice/signin/reset_second_factor.html", {"staff": staff, "form": form}
    )


@staff_permission_required("accounts.reset_staff_second_factor")
def staff_list(request):
    return render(
        request,
        "backoffice/signin/staff_list.html",
        {"staff_members": staff_with_second_factor_state()},
    )
