"""Where a ``next`` parameter may send someone: a path on this site, nothing else.

``redirect()`` reads a bare word as a view name ("dashboard") and raises
NoReverseMatch for an unknown one, so a ``next`` value must never reach it;
an absolute URL or a scheme-relative ``//host`` would leave the site. Only a
relative path that ``url_has_allowed_host_and_scheme`` accepts is kept.
"""

from django.http import HttpResponseRedirect
from django.utils.http import url_has_allowed_host_and_scheme


def safe_next_path(request, candidate, default: str = "") -> str:
    """``candidate`` if it is a safe path on this site, else ``default``."""
    if not isinstance(candidate, str) or not candidate.startswith("/"):
        return default
    if candidate.startswith(("//", "/\\")) or any(ord(c) < 32 or ord(c) == 127 for c in candidate):
        return default
    if not url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return default
    return candidate


def redirect_to_next(request, candidate, default: str) -> HttpResponseRedirect:
    """A redirect to ``candidate`` when it is a safe path, else to ``default`` (a URL)."""
    return HttpResponseRedirect(safe_next_path(request, candidate, default))
