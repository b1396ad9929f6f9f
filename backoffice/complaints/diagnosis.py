"""From a card's timeline to a root cause, in plain words, with the remedies the facts support.

Each rule looks for one pattern in the timeline and, if it finds it, names the
root cause, tells the story in English and Chinese, and offers the remedies
that would change something: a re-sync only for a mandate still out of sync,
a retry only for an instalment still open, a waiver only for a fee still
charged. A remedy the facts do not support is never offered. The first rule
that matches decides, in the order of ``RULES``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.utils import timezone

from accounts.models import CardCredential, Channel
from backoffice.complaints.models import BANK_SIDE_ROOT_CAUSES, RootCause
from backoffice.complaints.plain_words import CHANNEL_IN_CHINESE, failure_in_words
from backoffice.complaints.timeline import CardTimeline
from debits.models import DebitAttempt, Instalment, LateFee, Mandate, MandateSync
from debits.services.resync import MANDATE_CLOSED

STALE_CODES = frozenset({"agreement_stale", "agreement_revoked"})
OUTAGE_CODES = frozenset({"gateway_unavailable", "not_received"})
FUNDS_CODES = frozenset({"insufficient_funds", "limit_exceeded"})
WITHDRAWN_CODES = frozenset({"account_closed", "authorisation_withdrawn"})
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Remedy:
    code: str  # resync, retry, waive_fee, refund_interest, refund_duplicate
    target_id: int
    label_en: str
    label_zh: str
    amount: Decimal | None = None


@dataclass(frozen=True)
class Diagnosis:
    root_cause: str
    text_en: str
    text_zh: str
    remedies: tuple[Remedy, ...] = ()
    failed_attempt: DebitAttempt | None = None

    @property
    def bank_side(self) -> bool:
        return self.root_cause in BANK_SIDE_ROOT_CAUSES

    @property
    def root_cause_label(self) -> str:
        return RootCause(self.root_cause).label

    def remedy(self, code: str, target_id: int) -> Remedy | None:
        return next((r for r in self.remedies if r.code == code and r.target_id == target_id), None)


# --- Words -----------------------------------------------------------------------------


def _day_en(moment: dt.datetime | dt.date) -> str:
    day = timezone.localtime(moment).date() if isinstance(moment, dt.datetime) else moment
    return f"{day.day} {day:%B}"


def _day_zh(moment: dt.datetime | dt.date) -> str:
    day = timezone.localtime(moment).date() if isinstance(moment, dt.datetime) else moment
    return f"{day.month}月{day.day}日"


def _clock(moment: dt.datetime) -> str:
    return timezone.localtime(moment).strftime("%H:%M")


def _times_en(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def _fee_words(fee: LateFee | None) -> tuple[str, str]:
    if fee is None:
        return "", ""
    if fee.state == LateFee.State.WAIVED:
        return (
            f"; a late fee of ¥{fee.amount} was charged and has been waived",
            f"；已收取滞纳金¥{fee.amount}，现已减免",
        )
    return f"; a late fee of ¥{fee.amount} was charged", f"；已收取滞纳金¥{fee.amount}"


# --- Facts the rules share ----------------------------------------------------------------


@dataclass
class _Facts:
    timeline: CardTimeline
    until: dt.datetime

    def failed(self, codes: frozenset[str]) -> DebitAttempt | None:
        """The latest failed debit with one of ``codes`` up to the complaint."""
        return next(
            (
                a
                for a in reversed(self.timeline.attempts)
                if a.state == DebitAttempt.State.FAILED
                and a.failure_code in codes
                and a.created_at <= self.until
            ),
            None,
        )

    def fee_of(self, instalment_id: int) -> LateFee | None:
        return next((f for f in self.timeline.fees if f.instalment_id == instalment_id), None)

    def mandate(self, mandate_id: int) -> Mandate | None:
        return next((m for m in self.timeline.mandates if m.pk == mandate_id), None)

    def remedies_for(self, attempt: DebitAttempt, *, resync: bool, refund_interest: bool):
        remedies = []
        mandate = self.mandate(attempt.mandate_id)
        if (
            resync
            and mandate is not None
            and mandate.state in Mandate.LIVE_STATES
            and not mandate.is_in_sync_with(self.timeline.card)
        ):
            remedies.append(
                Remedy(
                    "resync", mandate.pk, f"Re-sync mandate {mandate.reference} now", "立即重新同步"
                )
            )
        later = [
            a
            for a in self.timeline.attempts
            if a.instalment_id == attempt.instalment_id and a.created_at > attempt.created_at
        ]
        instalment = attempt.instalment
        if instalment.state in Instalment.OPEN_STATES and not later:
            remedies.append(Remedy("retry", attempt.pk, "Retry the debit now", "立即重新扣款"))
        fee = self.fee_of(attempt.instalment_id)
        if fee is not None and fee.state == LateFee.State.ACCRUED:
            remedies.append(
                Remedy(
                    "waive_fee",
                    fee.pk,
                    f"Waive the late fee of ¥{fee.amount}",
                    "减免滞纳金",
                    amount=fee.amount,
                )
            )
        if refund_interest and instalment.state == Instalment.State.SETTLED_LATE:
            amount = _interest_for_delay(instalment)
            if amount > 0:
                remedies.append(
                    Remedy(
                        "refund_interest",
                        attempt.pk,
                        f"Refund ¥{amount} of interest",
                        "退还利息",
                        amount=amount,
                    )
                )
        return tuple(remedies)


def _interest_for_delay(instalment: Instalment) -> Decimal:
    """The instalment's interest for the days it was paid late, on a 30-day month."""
    if instalment.paid_at is None:
        return Decimal("0")
    days = (timezone.localtime(instalment.paid_at).date() - instalment.due_date).days
    if days <= 0:
        return Decimal("0")
    return (instalment.interest_part * days / 30).quantize(CENT, rounding=ROUND_HALF_UP)


# --- The rules -----------------------------------------------------------------------------


def duplicate_debit(facts: _Facts) -> Diagnosis | None:
    """Two debits collected under one mandate on one day, one for an instalment not yet due."""
    succeeded = [
        a
        for a in facts.timeline.attempts
        if a.state == DebitAttempt.State.SUCCEEDED and a.created_at <= facts.until
    ]
    for attempt in succeeded:
        day = timezone.localtime(attempt.finished_at or attempt.created_at).date()
        same_day = [
            other
            for other in succeeded
            if other.pk != attempt.pk
            and other.mandate_id == attempt.mandate_id
            and timezone.localtime(other.finished_at or other.created_at).date() == day
        ]
        if same_day and attempt.instalment.due_date > day:
            other = same_day[0]
            remedy = Remedy(
                "refund_duplicate",
                attempt.pk,
                f"Refund the duplicate debit of ¥{attempt.amount}",
                "退还重复扣款",
                amount=attempt.amount,
            )
            return Diagnosis(
                RootCause.DUPLICATE,
                f"Two debits were collected on {_day_en(day)}: ¥{other.amount} for instalment "
                f"#{other.instalment.sequence} and ¥{attempt.amount} for instalment "
                f"#{attempt.instalment.sequence}, which was not due until "
                f"{_day_en(attempt.instalment.due_date)}.",
                f"{_day_zh(day)}扣款两次：第{other.instalment.sequence}期¥{other.amount}，"
                f"以及尚未到期（{_day_zh(attempt.instalment.due_date)}到期）的第"
                f"{attempt.instalment.sequence}期¥{attempt.amount}。",
                (remedy,),
                failed_attempt=None,
            )
    return None


def stale_agreement(facts: _Facts) -> Diagnosis | None:
    """A debit refused because the agreement was bound to a password the card no longer has."""
    attempt = facts.failed(STALE_CODES)
    if attempt is None:
        return None
    change = next(
        (
            c
            for c in reversed(facts.timeline.password_changes)
            if c.kind == CardCredential.Kind.TRANSACTION and c.changed_at <= attempt.created_at
        ),
        None,
    )
    reason_en, reason_zh = failure_in_words(attempt.failure_code)
    en = f"The debit of {_day_en(attempt.created_at)} failed because {reason_en}"
    zh = f"{_day_zh(attempt.created_at)}的扣款失败，原因是{reason_zh}"
    if change is not None:
        en += (
            f"; the transaction password had changed on {_day_en(change.changed_at)} at "
            f"{_clock(change.changed_at)} through {Channel(change.channel).label.lower()}"
        )
        zh += (
            f"；交易密码已于{_day_zh(change.changed_at)}{_clock(change.changed_at)}"
            f"通过{CHANNEL_IN_CHINESE[change.channel]}修改"
        )
        syncs = [
            s
            for s in facts.timeline.syncs
            if s.mandate_id == attempt.mandate_id and s.requested_at >= change.changed_at
        ]
        # A binding that came back after its mandate was closed is not a failed re-sync:
        # nothing was left to bind.
        failures = [
            s
            for s in syncs
            if s.outcome == MandateSync.Outcome.FAILED and s.error_code != MANDATE_CLOSED
        ]
        success = next((s for s in syncs if s.outcome == MandateSync.Outcome.SUCCEEDED), None)
        done_en = (
            f"succeeded on {_day_en(success.finished_at or success.requested_at)}"
            if success
            else "has not succeeded yet"
        )
        done_zh = (
            f"于{_day_zh(success.finished_at or success.requested_at)}成功"
            if success
            else "至今尚未成功"
        )
        if failures:
            en += f"; the re-sync failed {_times_en(len(failures))} and {done_en}"
            zh += f"；重新同步失败{len(failures)}次，{done_zh}"
        elif success:
            en += f"; the re-sync {done_en}"
            zh += f"；重新同步{done_zh}"
        else:
            en += "; the change never reached the agreement"
            zh += "；密码修改未同步到扣款协议"
    fee_en, fee_zh = _fee_words(facts.fee_of(attempt.instalment_id))
    return Diagnosis(
        RootCause.BANK_SYNC_FAILURE,
        en + fee_en + ".",
        zh + fee_zh + "。",
        facts.remedies_for(attempt, resync=True, refund_interest=True),
        failed_attempt=attempt,
    )


def gateway_outage(facts: _Facts) -> Diagnosis | None:
    attempt = facts.failed(OUTAGE_CODES)
    if attempt is None:
        return None
    reason_en, reason_zh = failure_in_words(attempt.failure_code)
    fee_en, fee_zh = _fee_words(facts.fee_of(attempt.instalment_id))
    return Diagnosis(
        RootCause.GATEWAY_OUTAGE,
        f"The debit of {_day_en(attempt.created_at)} failed because {reason_en}; "
        f"the fault was not the customer's{fee_en}.",
        f"{_day_zh(attempt.created_at)}的扣款失败，原因是{reason_zh}，并非客户责任{fee_zh}。",
        facts.remedies_for(attempt, resync=False, refund_interest=True),
        failed_attempt=attempt,
    )


def customer_funds(facts: _Facts) -> Diagnosis | None:
    attempt = facts.failed(FUNDS_CODES)
    if attempt is None:
        return None
    reason_en, reason_zh = failure_in_words(attempt.failure_code)
    fee_en, fee_zh = _fee_words(facts.fee_of(attempt.instalment_id))
    return Diagnosis(
        RootCause.CUSTOMER_FUNDS,
        f"The debit of {_day_en(attempt.created_at)} failed because {reason_en}; "
        f"the agreement and the payment network worked as they should{fee_en}.",
        f"{_day_zh(attempt.created_at)}的扣款失败，原因是{reason_zh}；扣款协议和支付网络均正常{fee_zh}。",
        failed_attempt=attempt,
    )


def authorisation_withdrawn(facts: _Facts) -> Diagnosis | None:
    attempt = facts.failed(WITHDRAWN_CODES)
    if attempt is None:
        return None
    reason_en, reason_zh = failure_in_words(attempt.failure_code)
    return Diagnosis(
        RootCause.AUTHORISATION_WITHDRAWN,
        f"The debit of {_day_en(attempt.created_at)} failed because {reason_en}; automatic "
        "repayment stopped under this mandate and needs a new authorisation.",
        f"{_day_zh(attempt.created_at)}的扣款失败，原因是{reason_zh}；该授权下的自动还款已停止，需要重新授权。",
        failed_attempt=attempt,
    )


RULES: tuple[Callable[[_Facts], Diagnosis | None], ...] = (
    duplicate_debit,
    stale_agreement,
    gateway_outage,
    authorisation_withdrawn,
    customer_funds,
)


def diagnose(timeline: CardTimeline, *, until: dt.datetime | None = None) -> Diagnosis:
    """The first rule that matches the timeline up to ``until`` (the complaint's receipt)."""
    facts = _Facts(timeline=timeline, until=until or timezone.now())
    for rule in RULES:
        found = rule(facts)
        if found is not None:
            return found
    return Diagnosis(
        RootCause.NONE_FOUND,
        "Nothing in the card's last 90 days explains the complaint: every debit and "
        "re-sync on record worked as it should.",
        "该卡近90天的记录中未发现可解释本投诉的问题：所有扣款和同步均正常。",
    )
