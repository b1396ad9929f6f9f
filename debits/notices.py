"""What debits tell the customer: mandates re-bound after a password change, a failed debit.

Each notice is queued in the transaction of its cause; its key names the
change (one credential change, one instalment's failure on one day), so a
card with several mandates or a debit retried the same day sends one notice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from accounts.models import Card, CustomerNotice
from accounts.services import NoticeText, queue_customer_notice
from debits.models import Mandate

# Failure codes -> what the customer is told happened, (English, Chinese).
_WHAT_HAPPENED = {
    "insufficient_funds": ("there was not enough money in the account", "账户余额不足"),
    "limit_exceeded": ("the account's debit limit was reached", "超出账户扣款限额"),
    "agreement_stale": (
        "the debit agreement had not yet caught up with your new password",
        "扣款协议尚未同步您的新密码",
    ),
    "agreement_revoked": (
        "the debit agreement had not yet caught up with your new password",
        "扣款协议尚未同步您的新密码",
    ),
    "gateway_unavailable": ("the payment network was unavailable", "支付网络暂时不可用"),
    "not_received": ("the payment network did not receive the debit", "支付网络未收到扣款请求"),
    "account_closed": ("the settlement account is closed", "结算账户已关闭"),
    "authorisation_withdrawn": ("the debit authorisation was withdrawn", "扣款授权已撤销"),
}


def tell_mandates_rebound(*, card: Card, credential_version: int) -> CustomerNotice | None:
    return queue_customer_notice(
        customer=card.customer,
        card=card,
        topic=CustomerNotice.Topic.MANDATES_REBOUND,
        dedup_key=f"mandates_rebound:{card.pk}:v{credential_version}",
        text=NoticeText(
            subject_en="Your automatic repayments continue",
            body_en=(
                f"Your automatic loan repayments from the car-loan card ending {card.last_four} "
                "now use your new password. They continue as before; you need to do nothing."
            ),
            subject_zh="您的自动还款照常进行",
            body_zh=(
                f"尾号{card.last_four}的车贷卡自动还款已同步您的新密码，将照常进行，您无需任何操作。"
            ),
        ),
    )


def tell_debit_failed(
    *,
    card: Card,
    instalment_id: int,
    amount,
    code: str,
    bank_side: bool,
    next_try_on: dt.date | None,
) -> CustomerNotice | None:
    """What happened in plain words, when it will be tried again, and no fee if it was us."""
    what_en, what_zh = _WHAT_HAPPENED.get(
        code, ("the payment could not be completed", "扣款未能完成")
    )
    when_en = (
        f" We will try again on {next_try_on:%Y-%m-%d}." if next_try_on else " We will contact you."
    )
    when_zh = f"我们将于{next_try_on:%Y-%m-%d}再次扣款。" if next_try_on else "我们将与您联系。"
    fee_en = " This was the bank's fault: no late fee will be charged." if bank_side else ""
    fee_zh = "此次失败由我行原因造成，不会收取滞纳金。" if bank_side else ""
    today = timezone.localdate()
    return queue_customer_notice(
        customer=card.customer,
        card=card,
        topic=CustomerNotice.Topic.DEBIT_FAILED,
        dedup_key=f"debit_failed:{instalment_id}:{today:%Y%m%d}",
        text=NoticeText(
            subject_en="Your loan repayment did not go through",
            body_en=(
                f"Today's automatic repayment of ¥{amount} from your car-loan card ending "
                f"{card.last_four} did not go through because {what_en}.{when_en}{fee_en}"
            ),
            subject_zh="您的贷款自动还款未成功",
            body_zh=(
                f"尾号{card.last_four}的车贷卡今日自动还款¥{amount}未成功，原因是{what_zh}。"
                f"{when_zh}{fee_zh}"
            ),
        ),
    )


@dataclass(frozen=True)
class FailedDebit:
    mandate_id: int
    instalment_id: int
    amount: Decimal
    code: str
    bank_side: bool
    next_try_on: dt.date | None


def tell_failed_debits(failures: list[FailedDebit]) -> None:
    """One notice per instalment and day for the debits that just failed (one query for all
    their cards, then one notice each).

    A debit the bank tries again later today (the network lost it, or was down) tells the
    customer nothing yet: most such retries succeed within the hour, and a text saying a
    repayment failed, followed by the money leaving anyway, is what brings complaints. If
    the day's last try fails too, that failure names the next day and is told.
    """
    today = timezone.localdate()
    failures = [f for f in failures if f.next_try_on is None or f.next_try_on > today]
    if not failures:
        return
    mandates = Mandate.objects.filter(pk__in={f.mandate_id for f in failures}).select_related(
        "card__customer"
    )
    cards = {mandate.pk: mandate.card for mandate in mandates}
    for failure in failures:
        tell_debit_failed(
            card=cards[failure.mandate_id],
            instalment_id=failure.instalment_id,
            amount=failure.amount,
            code=failure.code,
            bank_side=failure.bank_side,
            next_try_on=failure.next_try_on,
        )
