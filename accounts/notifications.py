"""Messages to customers (SMS or email) through a pluggable backend.

``settings.NOTIFICATION_BACKEND`` names the class. A message can carry a
single-use reset link, so no backend hands it to the logging system: the
console backend (development) prints to stdout, the file backend writes one
owner-only file per message, the recording backend keeps them in memory for
tests, like Django's locmem mail outbox. ``HttpNotificationBackend`` hands
messages to the bank's SMS/email gateway over HTTPS; production accepts only a
delivering backend (``accounts.notification_settings``). Whatever the backend
logs or prints names the recipient masked, never the full phone number.
"""

import json
import logging
import os
import sys
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from accounts.pii import mask_phone

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Notification:
    channel: str  # "sms" or "email"
    recipient: str
    subject: str
    body: str
    # What the message is about ("password_reset_link", "password_changed"), for tests and files.
    topic: str

    @property
    def recipient_masked(self) -> str:
        """The recipient as logs and consoles may show it (139****5678, w***@bank.example)."""
        if self.channel == "sms":
            return mask_phone(self.recipient)
        name, _, domain = self.recipient.partition("@")
        return f"{name[:1]}***@{domain}" if domain else "***"


class NotificationBackend(Protocol):
    def send(self, notification: Notification) -> None: ...


class ConsoleNotificationBackend:
    """Development only: prints the message to stdout, never to the logs."""

    def __init__(self, stream=None):
        self.stream = stream

    def send(self, notification: Notification) -> None:
        stream = self.stream or sys.stdout
        stream.write(
            f"--- {notification.channel.upper()} to {notification.recipient_masked} "
            f"({notification.topic}) ---\n{notification.subject}\n{notification.body}\n---\n"
        )
        stream.flush()


class FileNotificationBackend:
    """One file per message under NOTIFICATION_FILE_DIR, readable by its owner only."""

    def __init__(self, directory: str | Path | None = None):
        self.directory = Path(directory or settings.NOTIFICATION_FILE_DIR)

    def send(self, notification: Notification) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        stamp = timezone.now().strftime("%Y%m%dT%H%M%S%f")
        path = self.directory / f"{stamp}-{notification.topic}-{uuid.uuid4().hex[:8]}.txt"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(
                f"Channel: {notification.channel}\nTo: {notification.recipient}\n"
                f"Subject: {notification.subject}\n\n{notification.body}\n"
            )


# Messages the recording backend has sent; tests read and clear it.
outbox: list[Notification] = []


class RecordingNotificationBackend:
    """For tests: keeps every message in ``accounts.notifications.outbox``."""

    def send(self, notification: Notification) -> None:
        outbox.append(notification)


class NotificationNotSent(Exception):
    """The gateway did not accept a message."""


class HttpNotificationBackend:
    """Posts each message as JSON to the bank's SMS/email gateway (NOTIFICATION_GATEWAY_URL).

    The log line it writes names the topic and the masked recipient only.
    """

    def send(self, notification: Notification) -> None:
        payload = json.dumps(
            {
                "channel": notification.channel,
                "to": notification.recipient,
                "subject": notification.subject,
                "body": notification.body,
                "topic": notification.topic,
            }
        ).encode()
        headers = {"Content-Type": "application/json"}
        if settings.NOTIFICATION_GATEWAY_API_KEY:
            headers["Authorization"] = f"Bearer {settings.NOTIFICATION_GATEWAY_API_KEY}"
        request = urllib.request.Request(  # noqa: S310 # the URL is https, checked at start-up
            settings.NOTIFICATION_GATEWAY_URL, data=payload, headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(  # noqa: S310 # nosec B310 # https only, checked at start-up
                request, timeout=settings.NOTIFICATION_GATEWAY_TIMEOUT_SECONDS
            ) as response:
                status = response.status
        except OSError as error:
            raise NotificationNotSent(f"gateway unreachable: {type(error).__name__}") from None
        logger.info(
            "notification sent",
            extra={
                "topic": notification.topic,
                "channel": notification.channel,
                "recipient_masked": notification.recipient_masked,
                "status": status,
            },
        )


def get_notification_backend() -> NotificationBackend:
    return import_string(settings.NOTIFICATION_BACKEND)()


def send_notification(notification: Notification) -> None:
    get_notification_backend().send(notification)
