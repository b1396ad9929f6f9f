"""Collecting due instalments: debit runs, chunk collection, outcomes and the janitor.

A run selects what is due, records every instalment it will not collect (with
the reason) and fans the rest out to worker tasks in chunks. A chunk task
re-syncs stale mandates first, claims its instalments (one ``submitted``
attempt each, committed), calls the gateway with no transaction open, then
records every outcome in one short transaction. The database decides every
race: the partial unique indexes allow one in-flight and one succeeded
attempt per instalment, idempotency keys are unique, runs of a day are unique.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from django.conf import settings
from django.db import (
    IntegrityError,
    close_old_connections,
    connection,
    connections,
    transaction,
)
from django.db.models import Case, CharField, Count, F, Q, Value, When
from django.utils import timezone

from accounts.audit import record_audit_event
from accounts.models import StaffUser
from debits.gateways import (
    GatewayError,
    GatewayTimeout,
    GatewayUnavailable,
    get_gateway,
)
from debits.gateways.base import IdempotencyConflict
from debits.models import (
    Alert,
    CollectionPause,
    DebitAttempt,
    DebitRun,
    Instalment,
    Mandate,
    MandateSync,
    SkippedInstalment,
)
from debits.services.alerts import raise_alert

logger = logging.getLogger(__name__)

# Instalments per worker task. A task costs about a millisecond of broker
# overhead, so one per instalment would cap a run near 1,000/s; 500 makes that
# overhead negligible while one chunk still finishes in well under a second at
# 0 ms gateway latency (seconds at 20 ms), spreads a 10,000-instalment run over
# 20 tasks for the workers to share, and bounds what a crashed worker leaves
# for redelivery and the janitor.
CHUNK_SIZE = 500

# Rows per query while a run selects its instalments, so memory stays flat on a
# book of millions.
SELECTION_BATCH = 5000

# Same-day re-sync-and-retry rounds per instalment for bank-side answers; past
# this the retry waits for the next day so a network that keeps refusing the
# agreement does not spin a worker.
SAME_DAY_BANK_SIDE_RETRIES = 3

# The longest wait between tries after consecutive gateway outages.
MAX_OUTAGE_BACKOFF = dt.timedelta(days=1)


class DebitRunError(Exception):
    """A debit run or retry request that cannot be carried out (shown to staff)."""


# --- The outcome table ------------------------------------------------------------


class Classification(StrEnum):
    SUCCESS = "success"
    RETRYABLE = "retryable"  # the customer's side, e.g. no money today
    UNKNOWN = "unknown"  # the gateway may or may not have collected
    BANK_SIDE = "bank_side"  # our or the network's fault: never the customer's
    FINAL = "final"  # stop collecting under this mandate
    NEEDS_REVIEW = "needs_review"  # a code we do not know


class RetryPolicy(StrEnum):
    NONE = "none"
    SCHEDULE = "schedule"  # after DEBIT_RETRY_SCHEDULE_DAYS, at most DEBIT_MAX_ATTEMPTS tries
    BACKOFF = "backoff"  # same day, doubling waits from DEBIT_OUTAGE_BACKOFF_MINUTES
    SAME_DAY = "same_day"  # at once (after the mandate effect), a few times a day
    JANITOR = "janitor"  # the janitor asks the gateway by idempotency key first


class MandateEffect(StrEnum):
    NONE = "none"
    RESYNC = "resync"  # the network holds another agreement: bind again
    FAIL = "fail"  # the authorisation is gone: mandate failed, operations alerted


@dataclass(frozen=True)
class Outcome:
    attempt_state: str
    classification: Classification
    retry: RetryPolicy
    mandate_effect: MandateEffect
    # A late fee that follows from this outcome is waived automatically.
    bank_side_fee_cause: bool


SUCCEEDED = "succeeded"
UNCLASSIFIED = "unclassified"
NOT_RECEIVED = "not_received"

_S = DebitAttempt.State
OUTCOMES: dict[str, Outcome] = {
    SUCCEEDED: Outcome(
        _S.SUCCEEDED, Classification.SUCCESS, RetryPolicy.NONE, MandateEffect.NONE, False
    ),
    # The customer's account could not pay today; it may tomorrow.
    "insufficient_funds": Outcome(
        _S.FAILED, Classification.RETRYABLE, RetryPolicy.SCHEDULE, MandateEffect.NONE, False
    ),
    # The account's own daily or single-debit limit: like insufficient funds.
    "limit_exceeded": Outcome(
        _S.FAILED, Classification.RETRYABLE, RetryPolicy.SCHEDULE, MandateEffect.NONE, False
    ),
    # No answer: the money may have moved. Only get_status may decide, never a new collect.
    "timeout": Outcome(
        _S.UNKNOWN, Classification.UNKNOWN, RetryPolicy.JANITOR, MandateEffect.NONE, True
    ),
    # A gateway error without a business answer, or our client failing mid-call.
    "gateway_error": Outcome(
        _S.UNKNOWN, Classification.UNKNOWN, RetryPolicy.JANITOR, MandateEffect.NONE, True
    ),
    # Same key, other parameters: something of ours is wrong; ask before doing anything.
    "idempotency_conflict": Outcome(
        _S.UNKNOWN, Classification.UNKNOWN, RetryPolicy.JANITOR, MandateEffect.NONE, True
    ),
    # 5xx or refused connection: nothing happened, the network is down.
    "gateway_unavailable": Outcome(
        _S.FAILED, Classification.BANK_SIDE, RetryPolicy.BACKOFF, MandateEffect.NONE, True
    ),
    # The agreement we presented is not the one the network holds (a credential
    # change that did not reach it): bind again, then collect the same day.
    "agreement_stale": Outcome(
        _S.FAILED, Classification.BANK_SIDE, RetryPolicy.SAME_DAY, MandateEffect.RESYNC, True
    ),
    "agreement_revoked": Outcome(
        _S.FAILED, Classification.BANK_SIDE, RetryPolicy.SAME_DAY, MandateEffect.RESYNC, True
    ),
    # The janitor's verdict: the gateway never saw the key, so nothing was collected.
    NOT_RECEIVED: Outcome(
        _S.FAILED, Classification.BANK_SIDE, RetryPolicy.SAME_DAY, MandateEffect.NONE, True
    ),
    # The customer closed the account or withdrew the authorisation: stop for good.
    "account_closed": Outcome(
        _S.FAILED, Classification.FINAL, RetryPolicy.NONE, MandateEffect.FAIL, False
    ),
    "authorisation_withdrawn": Outcome(
        _S.FAILED, Classification.FINAL, RetryPolicy.NONE, MandateEffect.FAIL, False
    ),
    # A code nobody has classified: no automatic retry; staff decide (retry selected).
    # Not proven to be the customer's doing, so a fee that follows is waived.
    UNCLASSIFIED: Outcome(
        _S.FAILED, Classification.NEEDS_REVIEW, RetryPolicy.NONE, MandateEffect.NONE, True
    ),
}

# The gateway's spellings of the codes above.
RAW_CODE_ALIASES = {
    "nsf": "insufficient_funds",
    "insufficient_balance": "insufficient_funds",
    "limit_exceeded": "limit_exceeded",
    "daily_limit_exceeded": "limit_exceeded",
    "5xx": "gateway_unavailable",
    "service_unavailable": "gateway_unavailable",
    "stale_agreement": "agreement_stale",
    "agreement_expired": "agreement_stale",
    "revoked": "agreement_revoked",
    "account_closed": "account_closed",
    "authorization_withdrawn": "authorisation_withdrawn",
    "mandate_withdrawn": "authorisation_withdrawn",
}

BANK_SIDE_FAILURE_CODES = frozenset(
    code for code, outcome in OUTCOMES.items() if outcome.bank_side_fee_cause
)


def normalise_failure_code(raw: str) -> str:
    """The failure code we classify by, from whatever the gateway answered."""
    code = (raw or "").strip().lower().replace("-", "_").replace(" ", "_")
    if code in OUTCOMES:
        return code
    return RAW_CODE_ALIASES.get(code, UNCLASSIFIED)


def outcome_for(code: str) -> Outcome:
    return OUTCOMES[normalise_failure_code(code)]


# --- Skip reasons -----------------------------------------------------------------


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
    *, mandate: Mandate, loan_id: int, loan_reference: str, amount: Decimal, on_date: dt.date
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


# --- What a run and a chunk know about each instalment ------------------------------


@dataclass
class _History:
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
class _Context:
    """Everything the eligibility rules read, loaded in a fixed number of queries."""

    instalments: dict[int, dict]
    mandates: dict[int, Mandate]  # by loan id: the live one, else the latest
    card_versions: dict[int, int]
    book_pause: CollectionPause | None
    card_pauses: dict[int, CollectionPause]
    mandate_pauses: dict[int, CollectionPause]
    history: dict[int, _History] = field(default_factory=dict)


_INSTALMENT_FIELDS = (
    "id",
    "loan_id",
    "loan__reference",
    "due_date",
    "amount_due",
    "amount_paid",
    "state",
)


def _load_context(rows: list[dict], *, today: dt.date) -> _Context:
    loan_ids = {row["loan_id"] for row in rows}
    mandates: dict[int, Mandate] = {}
    for mandate in Mandate.objects.filter(loan_id__in=loan_ids).order_by("id"):
        current = mandates.get(mandate.loan_id)
        if (
            current is None
            or mandate.state in Mandate.LIVE_STATES
            or current.state not in Mandate.LIVE_STATES
        ):
            mandates[mandate.loan_id] = mandate
    card_ids = {m.card_id for m in mandates.values()}
    from accounts.models import Card

    card_versions = dict(
        Card.objects.filter(pk__in=card_ids).values_list("pk", "credential_version")
    )
    open_pauses = list(CollectionPause.objects.filter(resumed_at__isnull=True))
    history: dict[int, _History] = defaultdict(_History)
    ids = [row["id"] for row in rows]
    attempts = (
        DebitAttempt.objects.filter(instalment_id__in=ids)
        .order_by("instalment_id", "attempt_number")
        .values_list(
            "instalment_id",
            "attempt_number",
            "state",
            "failure_code",
            "next_retry_on",
            "finished_at",
        )
    )
    for instalment_id, number, state, code, next_retry_on, finished_at in attempts:
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
    return _Context(
        instalments={row["id"]: row for row in rows},
        mandates=mandates,
        card_versions=card_versions,
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


def _skip_reason(
    ctx: _Context,
    row: dict,
    *,
    on_date: dt.date,
    now: dt.datetime,
    honour_retry_schedule: bool,
) -> tuple[str, str] | None:
    """Why this instalment must not be collected now, or None if it may be."""
    mandate = ctx.mandates.get(row["loan_id"])
    if mandate is None:
        return SkipReason.NO_MANDATE, "The loan has no mandate"
    if mandate.state != Mandate.State.ACTIVE:
        return _mandate_state_reason(mandate.state), mandate.state_reason[:200]
    if on_date < mandate.valid_from:
        return SkipReason.MANDATE_NOT_YET_VALID, f"Valid from {mandate.valid_from}"
    if on_date > mandate.valid_until:
        return SkipReason.MANDATE_EXPIRED, f"Valid until {mandate.valid_until}"
    amount = row["amount_due"] - row["amount_paid"]
    if amount > mandate.per_debit_cap:
        return SkipReason.OVER_PER_DEBIT_CAP, f"{amount} above cap {mandate.per_debit_cap}"
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
        return SkipReason.TERMS_MISMATCH, "Breaks the authorisation's " + ", ".join(broken)
    history = ctx.history.get(row["id"])
    if history is None:
        return None
    if history.in_flight:
        return SkipReason.ATTEMPT_IN_FLIGHT, "An earlier attempt is not settled yet"
    if history.last_state != DebitAttempt.State.FAILED or not honour_retry_schedule:
        return None
    outcome = OUTCOMES.get(history.last_code, OUTCOMES[UNCLASSIFIED])
    if outcome.retry == RetryPolicy.NONE or history.last_next_retry_on is None:
        return SkipReason.NO_AUTOMATIC_RETRY, f"Last attempt failed: {history.last_code}"
    if history.last_next_retry_on > on_date:
        return SkipReason.RETRY_NOT_DUE, f"Next try on {history.last_next_retry_on}"
    if outcome.retry == RetryPolicy.BACKOFF and history.last_finished_at:
        ready_at = history.last_finished_at + _outage_backoff(history.outage_failures)
        if now < ready_at:
            return SkipReason.RETRY_NOT_DUE, f"Gateway outage: next try after {ready_at:%H:%M}"
    return None


def _next_retry_on(outcome: Outcome, history: _History, *, today: dt.date) -> dt.date | None:
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


# --- Starting a run ------------------------------------------------------------------


def _open_instalments(on_date: dt.date, instalment_ids: list[int] | None):
    qs = Instalment.objects.filter(state__in=Instalment.OPEN_STATES, due_date__lte=on_date)
    if instalment_ids is not None:
        qs = qs.filter(pk__in=instalment_ids)
    return qs


def _create_run(
    *, on_date: dt.date, kind: str, actor: StaffUser | None, dry_run: bool
) -> tuple[DebitRun, bool]:
    try:
        with transaction.atomic():
            return (
                DebitRun.objects.create(
                    run_date=on_date,
                    kind=kind,
                    dry_run=dry_run,
                    requested_by=actor if actor and actor.is_authenticated else None,
                ),
                True,
            )
    except IntegrityError:
        # Beat fired twice, or a second worker took the same scheduled tick.
        existing = DebitRun.objects.get(run_date=on_date, kind=kind, dry_run=False)
        return existing, False


def run_debit_job(
    *,
    on_date: dt.date,
    kind: str = DebitRun.Kind.SCHEDULED,
    actor: StaffUser | None = None,
    dry_run: bool = False,
    instalment_ids: list[int] | None = None,
    honour_retry_schedule: bool = True,
) -> DebitRun:
    """Select what is due on or before ``on_date`` and fan it out to the debit workers.

    Every open instalment due by then is either handed to a chunk task or
    recorded as a ``SkippedInstalment`` with its reason. The scheduled run of a
    day happens once: asking again returns the run that exists.
    """
    if kind not in DebitRun.Kind.values:
        raise DebitRunError(f"Unknown kind of run: {kind}")
    run, created = _create_run(on_date=on_date, kind=kind, actor=actor, dry_run=dry_run)
    if not created:
        return run
    record_audit_event(
        actor=actor,
        action="debit_run.started",
        target=run,
        summary={"run_date": on_date.isoformat(), "kind": kind, "dry_run": dry_run},
    )

    now = timezone.now()
    eligible: list[int] = []
    skipped = 0
    last_id = 0
    base = _open_instalments(on_date, instalment_ids).order_by("pk")
    while True:
        rows = list(base.filter(pk__gt=last_id).values(*_INSTALMENT_FIELDS)[:SELECTION_BATCH])
        if not rows:
            break
        last_id = rows[-1]["id"]
        ctx = _load_context(rows, today=on_date)
        skips = []
        for row in rows:
            reason = _skip_reason(
                ctx, row, on_date=on_date, now=now, honour_retry_schedule=honour_retry_schedule
            )
            if reason is None:
                eligible.append(row["id"])
            else:
                skips.append(
                    SkippedInstalment(
                        run=run, instalment_id=row["id"], reason=reason[0], detail=reason[1]
                    )
                )
        SkippedInstalment.objects.bulk_create(skips, ignore_conflicts=True)
        skipped += len(skips)

    chunks = [eligible[i : i + CHUNK_SIZE] for i in range(0, len(eligible), CHUNK_SIZE)]
    run.selected_count = len(eligible)
    run.skipped_count = skipped
    run.chunks_total = 0 if dry_run else len(chunks)
    fields = ["selected_count", "skipped_count", "chunks_total"]
    if dry_run or not chunks:
        run.state = DebitRun.State.COMPLETED
        run.finished_at = timezone.now()
        fields += ["state", "finished_at"]
    run.save(update_fields=fields)
    if not dry_run and chunks:
        _enqueue_chunks(run.pk, chunks, honour_retry_schedule=honour_retry_schedule)
    return run


def _enqueue_chunks(run_id: int, chunks: list[list[int]], *, honour_retry_schedule: bool):
    from debits.tasks.collection import collect_debit_chunk_task

    def send():
        for chunk in chunks:
            collect_debit_chunk_task.delay(run_id, chunk, honour_retry_schedule)

    transaction.on_commit(send)


@transaction.atomic
def retry_debit_attempts(*, attempts, actor: StaffUser) -> DebitRun:
    """Staff's "retry selected": collect these failed attempts' instalments now.

    Ignores the retry schedule (a person decided), never the rules that keep
    money right: pauses, mandate state and terms, one attempt in flight.
    """
    if not actor.has_perm("debits.retry_debit_attempt"):
        raise DebitRunError("You may not retry debit attempts")
    attempts = list(attempts)
    failed = [a for a in attempts if a.state == DebitAttempt.State.FAILED]
    if not failed:
        raise DebitRunError("Only failed attempts can be retried; unknown ones settle first")
    instalment_ids = sorted({a.instalment_id for a in failed})
    run = run_debit_job(
        on_date=timezone.localdate(),
        kind=DebitRun.Kind.MANUAL,
        actor=actor,
        instalment_ids=instalment_ids,
        honour_retry_schedule=False,
    )
    record_audit_event(
        actor=actor,
        action="debit_attempt.retry_requested",
        target=run,
        summary={
            "attempts": [a.pk for a in failed][:200],
            "instalments": len(instalment_ids),
            "not_retried": len(attempts) - len(failed),
        },
    )
    return run


# --- Collecting one chunk --------------------------------------------------------------


@dataclass
class _Claim:
    attempt_id: int
    instalment_id: int
    run_id: int | None
    key: str
    mandate_id: int
    mandate_reference: str
    agreement_token: str
    amount: Decimal
    due_date: dt.date
    history: _History
    # The day the try counts for: retry schedules run from it.
    on_date: dt.date | None = None


@dataclass
class _Answer:
    raw_code: str
    gateway_reference: str = ""
    message: str = ""

    @property
    def code(self) -> str:
        return normalise_failure_code(self.raw_code)


@dataclass
class ChunkSummary:
    claimed: int = 0
    skipped: int = 0
    outcomes: Counter = field(default_factory=Counter)


def idempotency_key_for(instalment_id: int, attempt_number: int) -> str:
    return f"inst-{instalment_id}-{attempt_number}"


def amount_in_minor_units(amount: Decimal) -> int:
    minor = amount.scaleb(2)
    if minor != minor.to_integral_value():
        raise ValueError(f"{amount} is not a whole number of fen")
    return int(minor)


def _preflight_resync(instalment_ids: list[int]) -> None:
    """Bind every stale mandate of these instalments to its card's credential version.

    Outside any transaction: the gateway is called. A re-sync that fails leaves
    the mandate behind, and the claim then skips its instalments as out of sync.
    """
    from debits.services.resync import MandateNotResyncable, resync_mandate

    stale = (
        Mandate.objects.filter(
            state=Mandate.State.ACTIVE,
            loan__instalments__in=instalment_ids,
        )
        .exclude(synced_credential_version=F("card__credential_version"))
        .distinct()
    )
    for mandate in stale:
        try:
            resync_mandate(mandate=mandate, trigger=MandateSync.Trigger.PREFLIGHT)
        except MandateNotResyncable:
            continue


def _claim(
    run: DebitRun, instalment_ids: list[int], *, honour_retry_schedule: bool
) -> tuple[list[_Claim], int]:
    """Lock the chunk's instalments, re-check every rule, and commit one attempt each."""
    today = run.run_date
    now = timezone.now()
    with transaction.atomic():
        qs = Instalment.objects.filter(pk__in=instalment_ids, state__in=Instalment.OPEN_STATES)
        locked = connection.features.has_select_for_update_skip_locked
        if locked:
            # Another worker holding a row (a redelivered chunk) has it in hand: skip it.
            qs = qs.select_for_update(skip_locked=True, of=("self",))
        rows = list(qs.order_by("pk").values(*_INSTALMENT_FIELDS))
        ctx = _load_context(rows, today=today)
        skips, candidates = [], []
        for row in rows:
            reason = _skip_reason(
                ctx, row, on_date=today, now=now, honour_retry_schedule=honour_retry_schedule
            )
            mandate = ctx.mandates.get(row["loan_id"])
            if reason is None and mandate.synced_credential_version != ctx.card_versions.get(
                mandate.card_id
            ):
                # Pre-flight could not bind the new credential version: never present
                # an agreement bound to the old one.
                reason = (
                    SkipReason.MANDATE_OUT_OF_SYNC,
                    f"Agreement bound to v{mandate.synced_credential_version}, card is at "
                    f"v{ctx.card_versions.get(mandate.card_id)}",
                )
            if reason is not None:
                if reason[0] == SkipReason.ATTEMPT_IN_FLIGHT and _in_flight_for_run(
                    row["id"], run.pk
                ):
                    continue  # this run's own attempt (a redelivered chunk): not a skip
                skips.append(
                    SkippedInstalment(
                        run=run, instalment_id=row["id"], reason=reason[0], detail=reason[1]
                    )
                )
                continue
            candidates.append((row, mandate, ctx.history.get(row["id"]) or _History()))
        if skips:
            SkippedInstalment.objects.bulk_create(skips, ignore_conflicts=True)

        attempts = [
            DebitAttempt(
                instalment_id=row["id"],
                mandate=mandate,
                run=run,
                attempt_number=history.last_number + 1,
                idempotency_key=idempotency_key_for(row["id"], history.last_number + 1),
                amount=row["amount_due"] - row["amount_paid"],
                credential_version=mandate.synced_credential_version,
            )
            for row, mandate, history in candidates
        ]
        ours = _insert_claimed_attempts(attempts, locked=locked)
    claims = []
    for row, mandate, history in candidates:
        key = idempotency_key_for(row["id"], history.last_number + 1)
        if key in ours:
            claims.append(
                _Claim(
                    attempt_id=ours[key],
                    instalment_id=row["id"],
                    run_id=run.pk,
                    key=key,
                    mandate_id=mandate.pk,
                    mandate_reference=mandate.reference,
                    agreement_token=mandate.gateway_agreement_token,
                    amount=row["amount_due"] - row["amount_paid"],
                    due_date=row["due_date"],
                    history=history,
                    on_date=run.run_date,
                )
            )
    return claims, len(skips)


def _insert_claimed_attempts(attempts: list[DebitAttempt], *, locked: bool) -> dict[str, int]:
    """Write the claim's attempts as ``submitted``; return key → id of those that are ours.

    With the instalment rows locked (PostgreSQL) nobody else can be adding an
    attempt for them, so one INSERT ... RETURNING does; the in-flight unique
    index would still refuse a second one. Elsewhere (SQLite) rows are created,
    then moved to ``submitted`` by a conditional UPDATE stamped with this
    claim's time: the rows carrying the stamp are ours, and the in-flight
    unique index keeps any other claimer's out.
    """
    if not attempts:
        return {}
    claim_stamp = timezone.now()
    if locked:
        for attempt in attempts:
            attempt.state = DebitAttempt.State.SUBMITTED
            attempt.submitted_at = claim_stamp
        try:
            with transaction.atomic():
                DebitAttempt.objects.bulk_create(attempts)
            return {a.idempotency_key: a.pk for a in attempts}
        except IntegrityError:
            for attempt in attempts:
                attempt.pk = None
                attempt.state = DebitAttempt.State.CREATED
                attempt.submitted_at = None
    DebitAttempt.objects.bulk_create(attempts, ignore_conflicts=True)
    keys = [a.idempotency_key for a in attempts]
    DebitAttempt.objects.filter(idempotency_key__in=keys, state=DebitAttempt.State.CREATED).update(
        state=DebitAttempt.State.SUBMITTED, submitted_at=claim_stamp
    )
    return dict(
        DebitAttempt.objects.filter(
            idempotency_key__in=keys,
            state=DebitAttempt.State.SUBMITTED,
            submitted_at=claim_stamp,
        ).values_list("idempotency_key", "pk")
    )


def _in_flight_for_run(instalment_id: int, run_id: int) -> bool:
    return DebitAttempt.objects.filter(
        instalment_id=instalment_id, run_id=run_id, state__in=DebitAttempt.IN_FLIGHT_STATES
    ).exists()


def _gateway_concurrency(items: int) -> int:
    # Threads need their own connections and must see committed rows: inside an
    # open transaction (a test's) or on SQLite (one writer anyway) stay on this one.
    if connection.vendor == "sqlite" or connection.in_atomic_block:
        return 1
    return max(1, min(settings.DEBIT_GATEWAY_CONCURRENCY, items))


def _in_flight(items: list, call) -> dict[int, object]:
    """Run ``call`` on every item with many gateway calls in flight at once."""
    results: dict[int, object] = {}
    workers = _gateway_concurrency(len(items))
    if workers == 1:
        for index, item in enumerate(items):
            results[index] = call(item)
        return results
    feed = iter(enumerate(items))
    lock = threading.Lock()

    def drain():
        # Each thread has its own database connection (the simulator writes
        # through it); one broken or past CONN_MAX_AGE is replaced here.
        close_old_connections()
        try:
            while True:
                with lock:
                    nxt = next(feed, None)
                if nxt is None:
                    return
                results[nxt[0]] = call(nxt[1])
        finally:
            if _keep_gateway_connections:
                close_old_connections()
            else:
                connections.close_all()

    pool = _gateway_threads(settings.DEBIT_GATEWAY_CONCURRENCY)
    for future in [pool.submit(drain) for _ in range(workers)]:
        future.result()
    return results


_pool_lock = threading.Lock()
_pool: tuple[int, int, ThreadPoolExecutor] | None = None
# Set in worker processes only: they live long enough for kept connections to pay,
# and nobody drops their database under them (a test run's teardown would be
# refused while idle gateway threads held connections).
_keep_gateway_connections = False


def keep_gateway_connections() -> None:
    """Let this process's gateway threads keep their database connections between batches."""
    global _keep_gateway_connections
    _keep_gateway_connections = True


def _gateway_threads(size: int) -> ThreadPoolExecutor:
    """The process's gateway threads, kept from chunk to chunk.

    Threads made per chunk each opened a database connection and closed it at
    the end: sixteen connects (about 4 ms each here, and a server process each)
    for every 500 instalments. In a worker process kept threads keep their
    connections for CONN_MAX_AGE. Made afresh in a forked child, or when the size changes.
    """
    global _pool
    with _pool_lock:
        if _pool is None or _pool[:2] != (os.getpid(), size):
            if _pool is not None and _pool[0] == os.getpid():
                _pool[2].shutdown(wait=False)
            _pool = (
                os.getpid(),
                size,
                ThreadPoolExecutor(max_workers=size, thread_name_prefix="gateway"),
            )
        return _pool[2]


def _present(claim: _Claim) -> _Answer:
    try:
        result = get_gateway().collect(
            idempotency_key=claim.key,
            mandate_reference=claim.mandate_reference,
            agreement_token=claim.agreement_token,
            amount_minor=amount_in_minor_units(claim.amount),
        )
    except GatewayTimeout as exc:
        return _Answer(raw_code=exc.code, message=str(exc)[:300])
    except GatewayUnavailable as exc:
        return _Answer(raw_code=exc.code, message=str(exc)[:300])
    except IdempotencyConflict as exc:
        return _Answer(raw_code=exc.code, message=str(exc)[:300])
    except GatewayError as exc:
        return _Answer(raw_code="gateway_error", message=f"{exc.code}: {exc}"[:300])
    except Exception as exc:
        # We cannot tell whether the request left: the janitor asks the gateway.
        logger.exception("gateway collect failed", extra={"idempotency_key": claim.key})
        return _Answer(raw_code="gateway_error", message=f"{type(exc).__name__}"[:300])
    return _Answer(
        raw_code=result.outcome,
        gateway_reference=result.gateway_reference[:80],
        message=result.message[:300],
    )


def collect_debit_chunk(
    *, run_id: int, instalment_ids: list[int], honour_retry_schedule: bool = True
) -> ChunkSummary:
    """Collect one chunk of a run: pre-flight, claim, present, record.

    Safe to run twice (the broker delivers at least once): paid instalments and
    ones with an attempt in flight are not claimed again.
    """
    run = DebitRun.objects.get(pk=run_id)
    ids = sorted(set(instalment_ids))
    summary = ChunkSummary()
    try:
        for _round in range(SAME_DAY_BANK_SIDE_RETRIES):
            _preflight_resync(ids)
            claims, skipped = _claim(run, ids, honour_retry_schedule=honour_retry_schedule)
            summary.claimed += len(claims)
            summary.skipped += skipped
            answers = _in_flight(claims, _present)
            outcomes = record_debit_outcomes(
                claims=[(claims[i], answers[i]) for i in range(len(claims))]
            )
            summary.outcomes.update(outcomes.values())
            # Bank-side answers that re-sync repairs are retried at once, the same day.
            again = [
                claim.instalment_id
                for claim in claims
                if OUTCOMES[outcomes[claim.attempt_id]].mandate_effect == MandateEffect.RESYNC
            ]
            if not again:
                break
            ids, honour_retry_schedule = again, True
    finally:
        # Even a chunk that failed half-way is done for the run's progress: what it
        # claimed and did not record stays `submitted`, and the janitor settles it.
        _finish_chunk(run, summary)
    return summary


def record_debit_outcomes(*, claims: list[tuple[_Claim, _Answer]]) -> dict[int, str]:
    """Record the gateway's answers for submitted attempts in one short transaction.

    Returns attempt id → normalised code. Only attempts still ``submitted`` or
    ``unknown`` are settled (conditional UPDATE), so a janitor and a late worker
    cannot both settle one attempt.
    """
    now = timezone.now()
    today = timezone.localdate(now)
    codes: dict[int, str] = {}
    groups: dict[tuple, list[tuple[_Claim, _Answer]]] = defaultdict(list)
    for claim, answer in claims:
        code = answer.code
        codes[claim.attempt_id] = code
        outcome = OUTCOMES[code]
        failed = outcome.attempt_state != DebitAttempt.State.SUCCEEDED
        key = (
            outcome.attempt_state,
            code if failed else "",
            answer.raw_code if failed else "",
            _next_retry_on(outcome, claim.history, today=claim.on_date or today)
            if outcome.attempt_state == DebitAttempt.State.FAILED
            else None,
            answer.message if failed else "",
        )
        groups[key].append((claim, answer))
    if not claims:
        return codes
    with transaction.atomic():
        settled_ids: set[int] = set()
        for (state, code, raw, next_retry_on, message), members in groups.items():
            ids = [claim.attempt_id for claim, _ in members]
            values = {
                "state": state,
                "failure_code": code,
                "raw_failure_code": raw[:60],
                "failure_message": message,
                "next_retry_on": next_retry_on,
            }
            if state != DebitAttempt.State.UNKNOWN:
                values["finished_at"] = now
            _settle_attempts(
                {claim.attempt_id: answer.gateway_reference for claim, answer in members},
                values,
            )
            settled_ids.update(ids)
            if state == DebitAttempt.State.SUCCEEDED:
                _mark_paid([claim.instalment_id for claim, _ in members], now=now, today=today)
            if OUTCOMES[code or SUCCEEDED].mandate_effect == MandateEffect.FAIL:
                for claim, _ in members:
                    _fail_mandate(claim.mandate_id, code=code, raw=raw, key=claim.key)
            if OUTCOMES[code or SUCCEEDED].mandate_effect == MandateEffect.RESYNC:
                for claim, _ in members:
                    _invalidate_sync(claim.mandate_id, token=claim.agreement_token)
    return codes


def _settle_attempts(references: dict[int, str], values: dict) -> None:
    """One conditional UPDATE for attempts sharing an outcome, each with its own reference.

    Only attempts still ``submitted`` or ``unknown`` change. On PostgreSQL the
    references travel as two arrays joined with ``unnest``: a CASE with one
    branch per row costs more to build in Python than the whole update.
    """
    unsettled = (DebitAttempt.State.SUBMITTED, DebitAttempt.State.UNKNOWN)
    if connection.vendor != "postgresql" or len(set(references.values())) == 1:
        if len(set(references.values())) == 1:
            reference = next(iter(references.values()))
        else:
            reference = Case(
                *[When(pk=pk, then=Value(ref)) for pk, ref in references.items()],
                default=F("gateway_reference"),
                output_field=CharField(),
            )
        DebitAttempt.objects.filter(pk__in=list(references), state__in=unsettled).update(
            gateway_reference=reference, **values
        )
        return
    table = DebitAttempt._meta.db_table
    columns = list(values)
    assignments = ", ".join(f"{connection.ops.quote_name(c)} = %s" for c in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            # bandit B608 does not apply: the table is the model's, the columns are quoted
            # names from our own dict, and every value is a parameter.
            f"UPDATE {table} AS a SET {assignments}, gateway_reference = v.reference "  # noqa: S608 # nosec B608
            "FROM unnest(%s::bigint[], %s::text[]) AS v(id, reference) "
            "WHERE a.id = v.id AND a.state = ANY(%s)",
            [
                *(values[c] for c in columns),
                list(references),
                list(references.values()),
                list(unsettled),
            ],
        )


def _mark_paid(instalment_ids: list[int], *, now: dt.datetime, today: dt.date) -> None:
    Instalment.objects.filter(pk__in=instalment_ids, state__in=Instalment.OPEN_STATES).update(
        amount_paid=F("amount_due"),
        paid_at=now,
        state=Case(
            When(due_date__lt=today, then=Value(Instalment.State.SETTLED_LATE)),
            default=Value(Instalment.State.PAID),
            output_field=CharField(),
        ),
    )


def _fail_mandate(mandate_id: int, *, code: str, raw: str, key: str) -> None:
    """A final answer: the authorisation is gone, stop collecting and tell operations."""
    mandate = Mandate.objects.select_related("card").get(pk=mandate_id)
    moved = Mandate.objects.filter(pk=mandate_id, state__in=Mandate.LIVE_STATES).update(
        state=Mandate.State.FAILED, state_reason=f"Debit answered {code} ({raw})"[:200]
    )
    if not moved:
        return
    record_audit_event(
        actor=None,
        action="mandate.failed",
        target=mandate,
        summary={"failure_code": code, "raw_failure_code": raw, "idempotency_key": key},
    )
    raise_alert(
        kind=Alert.Kind.MANDATE_FAILED,
        dedup_key=f"mandate_failed:mandate:{mandate_id}",
        severity=Alert.Severity.CRITICAL,
        mandate=mandate,
        message=f"Mandate {mandate.reference} failed: the debit answered {code}. "
        "No further debits will be presented under it.",
    )


def _invalidate_sync(mandate_id: int, *, token: str) -> None:
    """The network refused the agreement we hold: what we recorded as bound is not.

    Sync state is derived from versions, so forget the bound version; the next
    pre-flight binds the card's current one again. Only if the mandate still
    holds the token we presented (a concurrent re-sync may have replaced it).
    """
    Mandate.objects.filter(pk=mandate_id, gateway_agreement_token=token).update(
        synced_credential_version=0
    )


def _finish_chunk(run: DebitRun, summary: ChunkSummary) -> None:
    states = Counter()
    for code, count in summary.outcomes.items():
        states[OUTCOMES[code].attempt_state] += count
    with transaction.atomic():
        DebitRun.objects.filter(pk=run.pk).update(
            chunks_done=F("chunks_done") + 1,
            skipped_count=F("skipped_count") + summary.skipped,
            succeeded_count=F("succeeded_count") + states[DebitAttempt.State.SUCCEEDED],
            failed_count=F("failed_count") + states[DebitAttempt.State.FAILED],
            unknown_count=F("unknown_count") + states[DebitAttempt.State.UNKNOWN],
        )
        record_audit_event(
            actor=None,
            action="debit_run.chunk_collected",
            target=run,
            summary={
                "claimed": summary.claimed,
                "skipped": summary.skipped,
                "outcomes": dict(summary.outcomes),
            },
        )
        finished = DebitRun.objects.filter(
            pk=run.pk, state=DebitRun.State.RUNNING, chunks_done__gte=F("chunks_total")
        ).update(state=DebitRun.State.COMPLETED, finished_at=timezone.now())
        if finished:
            recount_debit_run(run_id=run.pk)


def recount_debit_run(*, run_id: int) -> None:
    """Counters from the rows themselves (a redelivered chunk may have counted twice)."""
    by_state = dict(
        DebitAttempt.objects.filter(run_id=run_id)
        .values_list("state")
        .annotate(n=Count("id"))
        .values_list("state", "n")
    )
    DebitRun.objects.filter(pk=run_id).update(
        succeeded_count=by_state.get(DebitAttempt.State.SUCCEEDED, 0),
        failed_count=by_state.get(DebitAttempt.State.FAILED, 0),
        unknown_count=by_state.get(DebitAttempt.State.UNKNOWN, 0)
        + by_state.get(DebitAttempt.State.SUBMITTED, 0),
        skipped_count=SkippedInstalment.objects.filter(run_id=run_id).count(),
    )


# --- The janitor ------------------------------------------------------------------------

# Attempts the janitor settles per pass; the next pass takes the rest.
JANITOR_BATCH = 2000


def settle_unresolved_attempts(*, now: dt.datetime | None = None) -> Counter:
    """Settle ``unknown`` attempts, and ``submitted`` ones a dead worker left, by asking
    the gateway what happened to each idempotency key. Never collects anything.
    """
    now = now or timezone.now()
    stale_before = now - dt.timedelta(seconds=settings.DEBIT_SUBMITTED_STALE_AFTER_SECONDS)
    unseen_before = now - dt.timedelta(seconds=settings.DEBIT_UNKNOWN_NOT_RECEIVED_AFTER_SECONDS)
    attempts = list(
        DebitAttempt.objects.filter(
            Q(state=DebitAttempt.State.UNKNOWN)
            | Q(state=DebitAttempt.State.SUBMITTED, submitted_at__lt=stale_before)
        )
        .select_related("mandate")
        .order_by("pk")[:JANITOR_BATCH]
    )
    if not attempts:
        return Counter()

    def ask(attempt: DebitAttempt):
        try:
            return get_gateway().get_status(idempotency_key=attempt.idempotency_key)
        except GatewayError:
            return None

    statuses = _in_flight(attempts, ask)
    history = _load_context(
        list(
            Instalment.objects.filter(pk__in={a.instalment_id for a in attempts}).values(
                *_INSTALMENT_FIELDS
            )
        ),
        today=timezone.localdate(now),
    ).history
    settled: list[tuple[_Claim, _Answer]] = []
    for index, attempt in enumerate(attempts):
        status = statuses[index]
        if status is None:
            continue
        if status.found and status.outcome:
            answer = _Answer(
                raw_code=status.outcome,
                gateway_reference=status.gateway_reference[:80],
                message=status.message[:300],
            )
            if OUTCOMES[answer.code].attempt_state == DebitAttempt.State.UNKNOWN:
                continue
        else:
            since = attempt.submitted_at or attempt.created_at
            if attempt.state == DebitAttempt.State.UNKNOWN and since >= unseen_before:
                continue  # a slow network may still carry it out: ask again later
            answer = _Answer(raw_code=NOT_RECEIVED, message="The gateway never saw this key")
        h = history.get(attempt.instalment_id) or _History(attempts=1)
        # The attempt being settled is not a prior try of its own.
        h.attempts -= 1
        h.in_flight = False
        settled.append(
            (
                _Claim(
                    attempt_id=attempt.pk,
                    instalment_id=attempt.instalment_id,
                    run_id=attempt.run_id,
                    key=attempt.idempotency_key,
                    mandate_id=attempt.mandate_id,
                    mandate_reference=attempt.mandate.reference,
                    agreement_token=attempt.mandate.gateway_agreement_token,
                    amount=attempt.amount,
                    due_date=timezone.localdate(now),
                    history=h,
                ),
                answer,
            )
        )
    codes = record_debit_outcomes(claims=settled)
    for run_id in {claim.run_id for claim, _ in settled if claim.run_id}:
        recount_debit_run(run_id=run_id)
    if settled:
        record_audit_event(
            actor=None,
            action="debit_attempt.settled_by_janitor",
            object_type="debits.debitattempt",
            object_id="batch",
            summary={"settled": len(settled), "outcomes": dict(Counter(codes.values()))},
        )
    return Counter(codes.values())
