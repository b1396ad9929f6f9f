"""Eligibility: whether an instalment may be collected now, and if not, why.

The same rules run twice: when a run selects its instalments, and again under
lock when a chunk claims them. They read a ``CollectionContext`` loaded for a
whole batch of instalments in a fixed number of queries. The retry schedule
lives here too: when a failed attempt may be tried again is the other side of
"not due yet".
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple

from django.conf import settings
from django.db import connection
from django.db.models import F, Lookup
from django.utils import timezone

from debits.models import CollectionPause, DebitAttempt, Mandate
from debits.outcomes import OUTCOMES, UNCLASSIFIED, Outcome, RetryPolicy

# Same-day re-sync-and-retry rounds per instalment for bank-side answers; past
# this the retry waits for the next day so a network that keeps refusing the
# agreement does not spin a worker.
SAME_DAY_BANK_SIDE_RETRIES = 3

# The longest wait between tries after consecutive gateway outages.
MAX_OUTAGE_BACKOFF = dt.timedelta(days=1)


class SkipReason(StrEnum):
    NO_MANDATE = "no_mandate"
    MANDATE_PENDING = "mandate_pending"
    MANDATE_SUSPENDED = "mandate_suspended"
    MANDATE_CANCELLED = "mandate_cancelled"
    MANDATE_FAILED = "mandate_failed"
    MANDATE_NOT_YET_VALID = "mandate_not_yet_valid"
    MANDATE_EXPIRED = "mandate_expired"
    OVER_PER_DEBIT_CAP = "over_per_debit_cap"
    TERMS_MISMATCH = "authorisation_terms_mismatch"
    PAUSED_BOOK = "collection_paused_book"
    PAUSED_CARD = "collection_paused_card"
    PAUSED_MANDATE = "collection_paused_mandate"
    ATTEMPT_IN_FLIGHT = "attempt_in_flight"
    RETRY_NOT_DUE = "retry_not_due"
    NO_AUTOMATIC_RETRY = "no_automatic_retry"
    MANDATE_OUT_OF_SYNC = "mandate_out_of_sync"
    # Why staff's "retry selected" did not retry an attempt before any rule ran.
    ATTEMPT_NOT_FAILED = "attempt_not_failed"
    INSTALMENT_SETTLED = "instalment_settled"
    NOT_DUE_YET = "not_due_yet"


# Skips for which the bank, not the customer, is why the instalment went unpaid.
BANK_SIDE_SKIP_REASONS = frozenset(
    {
        SkipReason.PAUSED_BOOK,
        SkipReason.PAUSED_CARD,
        SkipReason.PAUSED_MANDATE,
        SkipReason.MANDATE_OUT_OF_SYNC,
    }
)


def _mandate_state_reason(state: str) -> SkipReason:
    return {
        Mandate.State.PENDING: SkipReason.MANDATE_PENDING,
        Mandate.State.SUSPENDED: SkipReason.MANDATE_SUSPENDED,
        Mandate.State.CANCELLED: SkipReason.MANDATE_CANCELLED,
        Mandate.State.FAILED: SkipReason.MANDATE_FAILED,
    }[state]


def check_authorisation_terms(
    *,
    mandate: Mandate | MandateTerms,
    loan_id: int,
    loan_reference: str,
    amount: Decimal,
    on_date: dt.date,
) -> list[str]:
    """The terms of the authorisation this debit would break (PBoC collection rules)."""
    broken = []
    if mandate.payee != settings.DEBIT_PAYEE_NAME:
        broken.append("payee")
    if mandate.loan_id != loan_id or loan_reference not in mandate.purpose:
        broken.append("purpose")
    if not mandate.settlement_account_fingerprint:
        broken.append("account")
    if mandate.cycle != Mandate.Cycle.MONTHLY:
        broken.append("cycle")
    if not mandate.valid_from <= on_date <= mandate.valid_until:
        broken.append("validity")
    if amount > mandate.per_debit_cap:
        broken.append("cap")
    return broken


@dataclass
class AttemptHistory:
    """An instalment's earlier attempts, as far as the rules and the retry schedule care."""

    attempts: int = 0
    last_number: int = 0
    in_flight: bool = False
    last_state: str = ""
    last_code: str = ""
    last_next_retry_on: dt.date | None = None
    last_finished_at: dt.datetime | None = None
    customer_failures: int = 0
    outage_failures: int = 0
    bank_side_today: int = 0


@dataclass
class CollectionContext:
    """Everything the eligibility rules read, loaded in a fixed number of queries."""

    instalments: dict[int, dict]
    mandates: dict[int, MandateTerms]  # by loan id: the live one, else the latest
    book_pause: CollectionPause | None
    card_pauses: dict[int, CollectionPause]
    mandate_pauses: dict[int, CollectionPause]
    history: dict[int, AttemptHistory] = field(default_factory=dict)


INSTALMENT_FIELDS = (
    "id",
    "loan_id",
    "loan__reference",
    "due_date",
    "amount_due",
    "amount_paid",
    "state",
)


class MandateTerms(NamedTuple):
    """A mandate as the rules and the claim read it, with its card's credential
    version and whether the two are in sync (``MandateQuerySet.with_sync_state``)."""

    pk: int
    loan_id: int
    card_id: int
    reference: str
    state: str
    state_reason: str
    valid_from: dt.date
    valid_until: dt.date
    per_debit_cap: Decimal
    payee: str
    purpose: str
    settlement_account_fingerprint: str
    cycle: str
    synced_credential_version: int
    gateway_agreement_token: str
    card_credential_version: int
    is_in_sync: bool


# Only these columns, and the ids as one array rather than an IN list of thousands
# of parameters: that cut the context of a 5,000-row selection page from 5.7 s to
# under 1 s on the shared 2-core machine (load 14). As plain rows, not model
# instances with their card: a run's selection over 300,000 due instalments took
# 8.8-13.0 s instead of 15.5-16.1 s (bench/debit_throughput.py, two workers).
MANDATE_FIELDS = (*MandateTerms._fields[:-2], "card__credential_version", "synced_with_card")


class AnyOf(Lookup):
    """``column = ANY(%s)`` with the values as one array parameter on PostgreSQL (an
    ``IN`` list elsewhere): one parameter however many ids a page holds."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, params = self.process_lhs(compiler, connection)
        values = list(self.rhs)
        if connection.vendor == "postgresql":
            return f"{lhs} = ANY(%s)", [*params, values]
        if not values:
            return "1 = 0", params
        return f"{lhs} IN ({', '.join(['%s'] * len(values))})", [*params, *values]


# Each instalment's attempts by the instalment index, whatever the statistics say. As
# ``instalment_id = ANY(<500 ids>)`` the planner prices the list with its default
# selectivity unless the table was analysed since it grew, and at month-end the
# table grows by a million rows in minutes: it then scans every attempt once per
# chunk (a 1,000,000 run slowed to half its speed by 450,000 attempts). One probe per
# id (LATERAL, kept apart from the outer query by OFFSET 0) always takes the index.
_ATTEMPTS_OF_SQL = f"""
SELECT a.instalment_id, a.attempt_number, a.state, a.failure_code, a.next_retry_on,
       a.finished_at
FROM unnest(%s::bigint[]) AS i(id)
CROSS JOIN LATERAL (
    SELECT * FROM {DebitAttempt._meta.db_table} AS x WHERE x.instalment_id = i.id OFFSET 0
) AS a
ORDER BY a.instalment_id, a.attempt_number
"""  # noqa: S608 # nosec B608 - the table name is the model's own, the ids a parameter


def _attempts_of(instalment_ids: list[int]):
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_ATTEMPTS_OF_SQL, [instalment_ids])
            return cursor.fetchall()
    return (
        DebitAttempt.objects.filter(AnyOf(F("instalment_id"), instalment_ids))
        .order_by("instalment_id", "attempt_number")
        .values_list(
            "instalment_id", "attempt_number", "state", "failure_code", "next_retry_on",
            "finished_at",
        )
    )  # fmt: skip


def load_collection_context(rows: list[dict], *, today: dt.date) -> CollectionContext:
    loan_ids = sorted({row["loan_id"] for row in rows})
    mandates: dict[int, MandateTerms] = {}
    for row in (
        Mandate.objects.filter(AnyOf(F("loan_id"), loan_ids))
        .with_sync_state()
        .order_by("id")
        .values_list(*MANDATE_FIELDS)
    ):
        mandate = MandateTerms._make(row)
        current = mandates.get(mandate.loan_id)
        if (
            current is None
            or mandate.state in Mandate.LIVE_STATES
            or current.state not in Mandate.LIVE_STATES
        ):
            mandates[mandate.loan_id] = mandate
    open_pauses = list(CollectionPause.objects.filter(resumed_at__isnull=True))
    history: dict[int, AttemptHistory] = defaultdict(AttemptHistory)
    ids = [row["id"] for row in rows]
    for instalment_id, number, state, code, next_retry_on, finished_at in _attempts_of(ids):
        h = history[instalment_id]
        h.attempts += 1
        h.last_number = max(h.last_number, number)
        h.last_state, h.last_code = state, code
        h.last_next_retry_on, h.last_finished_at = next_retry_on, finished_at
        if state in DebitAttempt.IN_FLIGHT_STATES:
            h.in_flight = True
        if state == DebitAttempt.State.FAILED and code:
            outcome = OUTCOMES.get(code)
            if outcome and outcome.retry == RetryPolicy.SCHEDULE:
                h.customer_failures += 1
            if outcome and outcome.retry == RetryPolicy.BACKOFF:
                h.outage_failures += 1
            if (
                outcome
                and outcome.retry == RetryPolicy.SAME_DAY
                and finished_at
                and timezone.localdate(finished_at) == today
            ):
                h.bank_side_today += 1
    return CollectionContext(
        instalments={row["id"]: row for row in rows},
        mandates=mandates,
        book_pause=next((p for p in open_pauses if p.scope == CollectionPause.Scope.BOOK), None),
        card_pauses={p.card_id: p for p in open_pauses if p.scope == CollectionPause.Scope.CARD},
        mandate_pauses={
            p.mandate_id: p for p in open_pauses if p.scope == CollectionPause.Scope.MANDATE
        },
        history=history,
    )


def _outage_backoff(failures: int) -> dt.timedelta:
    wait = dt.timedelta(minutes=settings.DEBIT_OUTAGE_BACKOFF_MINUTES) * 2 ** max(failures - 1, 0)
    return min(wait, MAX_OUTAGE_BACKOFF)


def skip_reason(
    ctx: CollectionContext,
    row: dict,
    *,
    on_date: dt.date,
    now: dt.datetime,
    honour_retry_schedule: bool,
) -> tuple[str, str] | None:
    """Why this instalment must not be collected now, or None if it may be.

    The detail is a value (a date, amounts, the terms or failure code at fault) or
    text staff wrote (a pause's reason), never an English sentence: the reason's
    label says the rest in the reader's language."""
    mandate = ctx.mandates.get(row["loan_id"])
    if mandate is None:
        return SkipReason.NO_MANDATE, ""
    if mandate.state != Mandate.State.ACTIVE:
        return _mandate_state_reason(mandate.state), mandate.state_reason[:200]
    if on_date < mandate.valid_from:
        return SkipReason.MANDATE_NOT_YET_VALID, mandate.valid_from.isoformat()
    if on_date > mandate.valid_until:
        return SkipReason.MANDATE_EXPIRED, mandate.valid_until.isoformat()
    amount = row["amount_due"] - row["amount_paid"]
    if amount > mandate.per_debit_cap:
        return SkipReason.OVER_PER_DEBIT_CAP, f"{amount} > {mandate.per_debit_cap}"
    if ctx.book_pause is not None:
        return SkipReason.PAUSED_BOOK, ctx.book_pause.reason[:200]
    if mandate.card_id in ctx.card_pauses:
        return SkipReason.PAUSED_CARD, ctx.card_pauses[mandate.card_id].reason[:200]
    if mandate.pk in ctx.mandate_pauses:
        return SkipReason.PAUSED_MANDATE, ctx.mandate_pauses[mandate.pk].reason[:200]
    broken = check_authorisation_terms(
        mandate=mandate,
        loan_id=row["loan_id"],
        loan_reference=row["loan__reference"],
        amount=amount,
        on_date=on_date,
    )
    if broken:
        return SkipReason.TERMS_MISMATCH, ", ".join(broken)
    history = ctx.history.get(row["id"])
    if history is None:
        return None
    if history.in_flight:
        return SkipReason.ATTEMPT_IN_FLIGHT, ""
    if history.last_state != DebitAttempt.State.FAILED or not honour_retry_schedule:
        return None
    outcome = OUTCOMES.get(history.last_code, OUTCOMES[UNCLASSIFIED])
    if outcome.retry == RetryPolicy.NONE or history.last_next_retry_on is None:
        return SkipReason.NO_AUTOMATIC_RETRY, history.last_code
    if history.last_next_retry_on > on_date:
        return SkipReason.RETRY_NOT_DUE, history.last_next_retry_on.isoformat()
    if outcome.retry == RetryPolicy.BACKOFF and history.last_finished_at:
        ready_at = history.last_finished_at + _outage_backoff(history.outage_failures)
        if now < ready_at:
            return SkipReason.RETRY_NOT_DUE, f"{timezone.localtime(ready_at):%Y-%m-%d %H:%M}"
    return None


def next_retry_date(outcome: Outcome, history: AttemptHistory, *, today: dt.date) -> dt.date | None:
    """The day a failed attempt may be tried again; None when only staff may retry it."""
    if outcome.retry == RetryPolicy.SCHEDULE:
        tries = history.customer_failures + 1
        # Only the customer's own failures use up tries: an outage is not their fault.
        if tries >= settings.DEBIT_MAX_ATTEMPTS:
            return None
        schedule = settings.DEBIT_RETRY_SCHEDULE_DAYS
        return today + dt.timedelta(days=schedule[min(tries, len(schedule)) - 1])
    if outcome.retry == RetryPolicy.BACKOFF:
        return timezone.localdate(timezone.now() + _outage_backoff(history.outage_failures + 1))
    if outcome.retry == RetryPolicy.SAME_DAY:
        if history.bank_side_today + 1 >= SAME_DAY_BANK_SIDE_RETRIES:
            return today + dt.timedelta(days=1)
        return today
    return None
