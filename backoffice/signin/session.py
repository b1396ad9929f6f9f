"""Session limits and the second-factor gate, for every URL.

- A session ends after ``SESSION_COOKIE_AGE`` seconds without a request (idle,
  counted from the last-seen time, written at most once a minute) and
  ``SESSION_ABSOLUTE_SECONDS`` after sign-in however active (absolute).
  Both times live in the session itself, so a replayed cookie is refused by the
  server and not only forgotten by the browser.
- A signed-in but unverified session (password step done, code not yet) reaches
  only the paths in ``SECOND_FACTOR_EXEMPT_*``; everything else redirects to the
  code step or, without a confirmed authenticator, to enrolment.
"""

import time
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect
from django.urls import Resolver404, resolve, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from backoffice.ui.redirects import safe_next_path

SESSION_STARTED_KEY = "staff_session_started_at"
SESSION_LAST_SEEN_KEY = "staff_session_last_seen_at"
# The last-seen time is written at most this often: written on every request, it
# saved the session (an UPDATE and its savepoint) on every page anyone opened. The
# idle limit is then up to this much shorter than SESSION_COOKIE_AGE, never longer,
# and the session's stored expiry moves with each write.
SESSION_LAST_SEEN_RESOLUTION_SECONDS = 60
# Set when a form was sent from a session that had ended: after signing in
# again, the page it came from says the form was not submitted.
UNSENT_FORM_KEY = "staff_unsent_form_page"

# Reachable by a signed-in person who has not passed the second factor yet.
SECOND_FACTOR_EXEMPT_URL_NAMES = frozenset(
    {"login", "logout", "set_language", "signin:verify", "signin:enrol"}
)
# Static files, and the password reset pages opened from a link (customers',
# and a staff member's own): a half-finished sign-in in the same browser must
# not block them.
SECOND_FACTOR_EXEMPT_PATH_PREFIXES = ("/static/", "/reset/", "/staff/password-reset/")


def mark_session_started(request) -> None:
    now = int(time.time())
    request.session[SESSION_STARTED_KEY] = now
    request.session[SESSION_LAST_SEEN_KEY] = now


def stamp_session_on_sign_in(sender, request, user, **kwargs) -> None:
    if request is not None and hasattr(request, "session"):
        mark_session_started(request)


def second_factor_step(user) -> str:
    """The URL name of the step an unverified person must take next."""
    from accounts.services.staff_security import has_confirmed_second_factor

    return "signin:verify" if has_confirmed_second_factor(user) else "signin:enrol"


def is_exempt_from_second_factor(path: str) -> bool:
    if path.startswith(SECOND_FACTOR_EXEMPT_PATH_PREFIXES):
        return True
    try:
        match = resolve(path)
    except Resolver404:
        return False
    return match.view_name in SECOND_FACTOR_EXEMPT_URL_NAMES


def _page_sent_from(request) -> str:
    """The same-site page a form or a background request was sent from (its Referer)."""
    referer = urlsplit(request.META.get("HTTP_REFERER", ""))
    if referer.netloc != request.get_host():
        return ""
    path = referer.path + (f"?{referer.query}" if referer.query else "")
    return safe_next_path(path)


def _is_page_request(request) -> bool:
    """A GET the browser shows as a page (not a fetch() from a page's script)."""
    if request.method not in ("GET", "HEAD"):
        return False
    return request.META.get("HTTP_SEC_FETCH_DEST", "document") in ("document", "")


def redirect_to_sign_in(request, *, session_ended: str = ""):
    """To sign-in, and afterwards back to the page the person was on.

    A page comes back to itself. A POST cannot be replayed (its data is gone
    and a 405 page would await the GET), nor can a script's fetch be shown as
    a page: both return to the page they were sent from, and a POST leaves a
    note that its form was not submitted.
    """
    if _is_page_request(request):
        back = request.get_full_path()
    else:
        back = _page_sent_from(request) or reverse("dashboard")
    unsent = request.method not in ("GET", "HEAD", "OPTIONS")
    if session_ended:
        text = _("Your session ended (%(why)s); please sign in again.") % {"why": session_ended}
        if unsent:
            text += " " + _("The form you sent was not submitted.")
        messages.info(request, text)
    elif unsent:
        messages.info(request, _("Please sign in: the form you sent was not submitted."))
    if unsent:
        request.session[UNSENT_FORM_KEY] = back
    return redirect_to_login(back)


def remind_of_unsent_form(request) -> None:
    """After signing in again: say on the page itself that its form still needs sending."""
    if request.session.pop(UNSENT_FORM_KEY, None):
        messages.warning(
            request,
            _(
                "Your session had ended, so the form you sent was not submitted: "
                "fill it in and send it again."
            ),
        )


class StaffSessionMiddleware:
    """Goes after AuthenticationMiddleware and django-otp's OTPMiddleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            expired = self._expired(request)
            if expired:
                logout(request)
                if not is_exempt_from_second_factor(request.path_info):
                    return redirect_to_sign_in(request, session_ended=expired)
                messages.info(request, f"Your session ended ({expired}); please sign in again.")
            elif not user.is_verified() and not is_exempt_from_second_factor(request.path_info):
                target = reverse(second_factor_step(user))
                return redirect(f"{target}?{urlencode({'next': request.get_full_path()})}")
            else:
                now = int(time.time())
                last_seen = request.session.get(SESSION_LAST_SEEN_KEY, 0)
                if now - last_seen >= SESSION_LAST_SEEN_RESOLUTION_SECONDS:
                    request.session[SESSION_LAST_SEEN_KEY] = now
        return self.get_response(request)

    @staticmethod
    def _expired(request) -> str:
        now = time.time()
        started = request.session.get(SESSION_STARTED_KEY)
        last_seen = request.session.get(SESSION_LAST_SEEN_KEY, started)
        if started is None:
            # Every sign-in path stamps the session; one without a stamp is not ours.
            return _("no sign-in time")
        if now - started > settings.SESSION_ABSOLUTE_SECONDS:
            return _("time limit")
        if now - last_seen > settings.SESSION_COOKIE_AGE:
            return _("inactivity")
        return ""
