"""Notices to customers through an outbox: nothing lost, nothing sent twice.

``queue_customer_notice`` is called inside the transaction of the change it
announces (a password change, mandates re-bound, a failed debit, a complaint
acknowledged or decided): the notice commits or rolls back with it. After
commit it is handed to the sending task the way outbox events are
(``accounts.outbox.dispatch_outbox_event``); if the broker is down it stays
unsent and ``sweep_customer_notices`` dispatches it later.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import (
    Card,
    Channel,
    CredentialKind,
    Customer,
    CustomerNotice,
    Language,
    PasswordChange,
)
from accounts.notifications import Notification, send_notification
from accounts.outbox import claim_for_redispatch, dispatch_outbox_event

logger = logging.getLogger(__name__)

SHANGHAI = ZoneInfo("Asia/Shanghai")

# One sweep re-dispatches at most this many notices: after a long outage the
# backlog drains over a few sweeps instead of one burst at the SMS gateway.
NOTICE_SWEEP_BATCH_SIZE = 500


@dataclass(frozen=True)
class NoticeText:
    """A notice in both languages; the customer's language picks one."""

    subject_en: str
    body_en: str
    subject_zh: str
    body_zh: str

    def for_language(self, language: str) -> tuple[str, str]:
        if language == Language.ENGLISH:
            return self.subject_en, self.body_en
        return self.subject_zh, self.body_zh


def queue_customer_notice(
    *,
    customer: Customer,
    topic: str,
    dedup_key: str,
    text: NoticeText,
    card: Card | None = None,
    channel: str = "sms",
) -> CustomerNotice | None:
    """Write a notice in the caller's transaction; it is sent after commit.

    Returns None when a notice with ``dedup_key`` already exists: a change that
    is announced twice (a retried task, a second mandate) sends one message.
    """
    if CustomerNotice.objects.filter(dedup_key=dedup_key).exists():
        return None
    language = (
        customer.language
        if "language" not in customer.get_deferred_fields()  # loaded: no query
        else Customer.objects.values_list("language", flat=True).get(pk=customer.pk)
    )
    subject, body = text.for_language(language)
    try:
        with transaction.atomic():
            notice = CustomerNotice.objects.create(
                customer_id=customer.pk,
                card_id=card.pk if card is not None else None,
                topic=topic,
                language=language,
                channel=channel,
                subject=subject[:200],
                body=body,
                dedup_key=dedup_key[:120],
            )
    except IntegrityError:
        return None  # a concurrent writer announced the same change first
    transaction.on_commit(lambda: dispatch_outbox_event(notice.pk, CustomerNotice.DISPATCH_TYPE))
    return notice


CHANNEL_IN_CHINESE = {
    Channel.STAFF_RESET: "银行柜员发起的重置",
    Channel.MOBILE_APP: "手机银行",
    Channel.ATM: "自动柜员机",
    Channel.BRANCH: "营业网点柜台",
    Channel.CORE_BANKING: "核心系统",
    Channel.SYSTEM: "系统",
}
KIND_IN_CHINESE = {
    CredentialKind.TRANSACTION: "交易密码",
    CredentialKind.QUERY: "查询密码",
    CredentialKind.FINGERPRINT: "指纹",
    CredentialKind.FACE: "人脸识别",
    CredentialKind.BOUND_DEVICE: "绑定设备",
}


def shanghai_time(moment) -> str:
    return timezone.localtime(moment, SHANGHAI).strftime("%Y-%m-%d %H:%M")


def credential_changed_text(*, change: PasswordChange, last_four: str) -> NoticeText:
    """Names the channel and the time, and says what to do if it was not the customer."""
    when = shanghai_time(change.changed_at)
    kind_en = CredentialKind(change.kind).label.lower()
    channel_en = Channel(change.channel).label.lower()
    return NoticeText(
        subject_en=f"Your card's {kind_en} was changed",
        body_en=(
            f"The {kind_en} of your car-loan card ending {last_four} was changed on {when} "
            f"(Beijing time) through {channel_en}. Your automatic loan repayments continue "
            "as before; you need to do nothing. If this was not you, call us at once."
        ),
        subject_zh=f"您的卡{KIND_IN_CHINESE[change.kind]}已修改",
        body_zh=(
            f"您尾号{last_four}的车贷卡{KIND_IN_CHINESE[change.kind]}已于北京时间{when}"
            f"通过{CHANNEL_IN_CHINESE[change.channel]}修改。自动还款照常进行，您无需任何操作。"
            "如非本人操作，请立即致电我行。"
        ),
    )


def _recipient(customer: Customer, channel: str) -> str:
    return customer.email if channel == "email" and customer.email else customer.phone


def send_customer_notice(*, notice_id: int) -> bool:
    """Send one notice, once. True if this call sent it.

    The row is locked (skip_locked) for the send, so two workers given the
    same notice (a redelivery, a sweep) never both send it; a failed send
    rolls back and the sweeper tries again.
    """
    with transaction.atomic():
        notice = (
            CustomerNotice.objects.select_for_update(skip_locked=True)
            .filter(pk=notice_id, sent_at__isnull=True)
            .select_related("customer")
            .first()
        )
        if notice is None:
            return False
        send_notification(
            Notification(
                channel=notice.channel,
                recipient=_recipient(notice.customer, notice.channel),
                subject=notice.subject,
                body=notice.body,
                topic=notice.topic,
            )
        )
        notice.sent_at = timezone.now()
        notice.save(update_fields=["sent_at"])
    return True


def sweep_customer_notices(*, older_than_seconds: float | None = None) -> list[int]:
    """Dispatch again the notices no worker sent in time (broker down, worker lost)."""
    with transaction.atomic():
        claimed = claim_for_redispatch(
            CustomerNotice.objects.filter(sent_at__isnull=True),
            older_than_seconds=older_than_seconds,
            limit=NOTICE_SWEEP_BATCH_SIZE,
        )
        for notice_id in claimed:
            transaction.on_commit(
                lambda notice_id=notice_id: dispatch_outbox_event(
                    notice_id, CustomerNotice.DISPATCH_TYPE
                )
            )
    return claimed
