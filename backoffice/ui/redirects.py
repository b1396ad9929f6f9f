"""Where a ``next`` parameter may send someone: a path on this site, nothing else.

A ``next`` from a query string or a form is attacker-controlled. ``redirect()``
reads a bare word as a view name ("dashboard") and raises NoReverseMatch for an
unknown one, so a ``next`` value must never reach it; an absolute URL, a
protocol-relative ``//host`` or a backslash trick a browser reads as one would
leave the site. Only a same-site relative path (``/customers/12/``) is kept.
"""

from urllib.parse import urlsplit

from django.http import HttpResponseRedirect
from django.utils.http import url_has_allowed_host_and_scheme


def safe_next_path(candidate: object, default: str = "") -> str:
    """``candidate`` if it is a same-site relative path, else ``default``."""
    if not isinstance(candidate, str):
        return default
    candidate = candidate.strip()
    if not candidate.startswith("/") or candidate.startswith(("//", "/\\")):
        return default
    if "\\" in candidate or any(ord(ch) < 32 or ord(ch) == 127 for ch in candidate):
        return default
    parts = urlsplit(candidate)
    if parts.scheme or parts.netloc:
        return default
    if not url_has_allowed_host_and_scheme(candidate, allowed_hosts=None):
        return default
    return candidate


def redirect_to_next(candidate: object, default: str) -> HttpResponseRedirect:
    """A redirect to ``candidate`` when it is a safe path, else to ``default`` (a URL)."""
    return HttpResponseRedirect(safe_next_path(candidate, default))


def requested_next_path(request, default: str) -> str:
    """The ``next`` a form or a link carried, when it is safe, else ``default``."""
    return safe_next_path(request.POST.get("next") or request.GET.get("next"), default)
