"""What production requires of notifications, checked while the settings load.

A reset message carries a live, single-use link. With ``DEBUG`` off the
process refuses to start when such messages would land on the server itself
(the console backend writes them to stdout, which gunicorn and the service
manager keep; the file backend to disk) unless a test deployment says so with
``NOTIFICATION_ALLOW_LOCAL_BACKEND=true``, and when the links would point
anywhere but an https address.
"""

from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

# Backends that keep the message on the server instead of delivering it.
LOCAL_BACKENDS = frozenset(
    {
        "accounts.notifications.ConsoleNotificationBackend",
        "accounts.notifications.FileNotificationBackend",
        "accounts.notifications.RecordingNotificationBackend",
    }
)
HTTP_BACKEND = "accounts.notifications.HttpNotificationBackend"


def check_production_notifications(
    *, backend: str, allow_local: bool, public_base_url: str, gateway_url: str
) -> None:
    """Raise ImproperlyConfigured when production settings would leak or misdirect links."""
    if not backend:
        raise ImproperlyConfigured("NOTIFICATION_BACKEND must be set when DEBUG is off")
    if backend in LOCAL_BACKENDS and not allow_local:
        raise ImproperlyConfigured(
            f"NOTIFICATION_BACKEND {backend} keeps reset links on the server; use a gateway "
            "(or NOTIFICATION_ALLOW_LOCAL_BACKEND=true for a test deployment)"
        )
    if backend == HTTP_BACKEND and urlsplit(gateway_url).scheme != "https":
        raise ImproperlyConfigured("NOTIFICATION_GATEWAY_URL must be an https:// URL")
    if not public_base_url:
        raise ImproperlyConfigured("PUBLIC_BASE_URL must be set when DEBUG is off")
    parts = urlsplit(public_base_url)
    if parts.scheme != "https" or not parts.netloc:
        raise ImproperlyConfigured("PUBLIC_BASE_URL must be an https:// address")
