"""Sending a single-use link once its transaction has committed, and recording a failure.

A reset link is sent only after the row behind it is committed (a link to a
row that rolled back would be useless), so the send happens outside the
service's transaction: when the notification gateway refuses it, the change
itself stands. The refusal is then a recorded fact (an audit event naming the
topic and the masked recipient) and an answer the page shows staff, never an
exception escaping into the response.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import models, transaction
from django.utils.translation import gettext

from accounts.audit import AuditAction, record_audit_event
from accounts.models import StaffUser
from accounts.notifications import Notification, NotificationNotSent, send_notification

logger = logging.getLogger(__name__)


@dataclass
class LinkDelivery:
    """What became of a link: ``sent`` is None until the transaction commits."""

    sent: bool | None = None
    error: str = ""

    @property
    def failed(self) -> bool:
        return self.sent is False


def send_link_after_commit(
    notification: Notification, *, target: models.Model, actor: StaffUser | None
) -> LinkDelivery:
    """Send ``notification`` when the current transaction commits; the outcome lands in
    the returned ``LinkDelivery`` (filled before the service returns when the service's
    transaction is the outermost one, as it is for a request)."""
    delivery = LinkDelivery()

    def send() -> None:
        try:
            send_notification(notification)
        except NotificationNotSent as error:
            delivery.sent, delivery.error = False, str(error)[:200]
            logger.warning(
                "link not sent",
                extra={
                    "topic": notification.topic,
                    "recipient_masked": notification.recipient_masked,
                },
            )
            with transaction.atomic():
                record_audit_event(
                    actor=actor,
                    action=AuditAction.LINK_NOT_SENT,
                    target=target,
                    summary={
                        "topic": notification.topic,
                        "channel": notification.channel,
                        "recipient": notification.recipient_masked,
                        "error": delivery.error,
                    },
                )
        else:
            delivery.sent = True

    transaction.on_commit(send)
    return delivery


def link_not_sent_message(channel: str) -> str:
    """What staff read when a customer's reset link was refused by the gateway."""
    return gettext(
        "The reset was recorded, but the notification gateway did not accept the link, "
        "so nothing was sent to the customer by %(channel)s. Start the reset again once "
        "the gateway is back (that cancels this link)."
    ) % {"channel": channel}
