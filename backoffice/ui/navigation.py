"""Where a page sends a person back to: same-site relative paths only.

A ``next`` from a query string or a form is attacker-controlled: only a path
on this site (``/customers/12/``) is followed, never a scheme, a host, a
protocol-relative ``//host`` or a backslash trick a browser reads as one.
"""

from urllib.parse import urlsplit

from django.utils.http import url_has_allowed_host_and_scheme


def safe_next_path(candidate: str | None) -> str:
    """``candidate`` if it is a same-site relative path, else the empty string."""
    candidate = (candidate or "").strip()
    if not candidate.startswith("/") or candidate.startswith(("//", "/\\")):
        return ""
    if "\\" in candidate or any(ord(ch) < 32 for ch in candidate):
        return ""
    parts = urlsplit(candidate)
    if parts.scheme or parts.netloc:
        return ""
    if not url_has_allowed_host_and_scheme(candidate, allowed_hosts=None):
        return ""
    return candidate
