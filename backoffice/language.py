"""The workspace's language: the browser's for visitors and customers, the staff
member's own preference once signed in, and the switch in the header.

Django's LocaleMiddleware picks the language from the language cookie or the
browser's Accept-Language. For signed-in staff the preference on their account
wins, on every request; the response then carries it in the language cookie too,
so the sign-in page after signing out stays in the language they chose.
"""

from django.conf import settings
from django.shortcuts import redirect
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts.services import set_staff_language

SUPPORTED = frozenset(code for code, _name in settings.LANGUAGES)


def _staff_language(request) -> str | None:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    return user.language if user.language in SUPPORTED else None


def _remember(response, language: str) -> None:
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )


class StaffLanguageMiddleware:
    """Goes after AuthenticationMiddleware (and LocaleMiddleware)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        language = _staff_language(request)
        if language:
            translation.activate(language)
            request.LANGUAGE_CODE = language
        response = self.get_response(request)
        # After the password step request.user is the person who just signed in.
        language = _staff_language(request) or language
        if language and request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) != language:
            _remember(response, language)
        return response


@require_POST
def switch_language(request):
    """The header's language switch (POST, CSRF-checked): back to the page it was on."""
    language = request.POST.get("language", "")
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        back = "/"
    response = redirect(back)
    if language not in SUPPORTED:
        return response
    if request.user.is_authenticated:
        set_staff_language(staff=request.user, language=language)
    translation.activate(language)
    _remember(response, language)
    return response
