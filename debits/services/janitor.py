"""The janitor: settles attempts nobody settled, by asking the network, never by paying again.

An attempt stays ``unknown`` after a timeout, and ``submitted`` when a worker
died between claiming and recording. Every few minutes the janitor asks the
gateway what happened to each such idempotency key and records the answer
through the same path as a chunk; a key the network never saw becomes
``not_received`` and is collected again by the next run.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.audit import AuditAction, record_audit_event
from debits.gateways import GatewayError, get_gateway
from debits.gateways.base import MAX_COLLECTIONS_PER_BATCH, supports_batch
from debits.gateways.pool import call_in_flight
from debits.models import DebitAttempt, Instalment
from debits.outcomes import NOT_RECEIVED, OUTCOMES, GatewayAnswer
from debits.services.eligibility import (
    INSTALMENT_FIELDS,
    AttemptHistory,
    load_collection_context,
)
from debits.services.recording import Claim, record_debit_outcomes
from debits.services.runs import recount_debit_run

# Attempts the janitor claims per pass; the next pass takes the rest.
JANITOR_BATCH = 2000
# Attempts asked about and recorded together, in rounds of the calls in flight: each
# slice's answers are kept in one short transaction, so a pass stopped half-way keeps
# every slice it finished, and on a slow network a slice takes a few round trips.
JANITOR_ROUNDS_PER_SLICE = 4


# How long a janitor's claim on an attempt holds: longer than asking the network
# about a whole batch takes, short enough that a janitor that died is replaced soon.
JANITOR_LEASE_SECONDS = 120


def _claim_unresolved(*, stale_before: dt.datetime) -> list[DebitAttempt]:
    """Claim a batch for this janitor alone, in one short transaction.

    ``skip_locked`` passes over rows another janitor is claiming at this very
    moment, and the lease then keeps them off every other janitor's batch while
    this one asks the network, with no transaction open during the calls.
    """
    # The lease is on the clock, whatever ``now`` a caller judges staleness by.
    clock = timezone.now()
    with transaction.atomic():
        ids = list(
            DebitAttempt.objects.select_for_update(skip_locked=True)
            .filter(
                Q(state=DebitAttempt.State.UNKNOWN)
                | Q(state=DebitAttempt.State.SUBMITTED, submitted_at__lt=stale_before)
            )
            .filter(Q(janitor_lease_until__isnull=True) | Q(janitor_lease_until__lt=clock))
            .order_by("pk")
            .values_list("pk", flat=True)[:JANITOR_BATCH]
        )
        if not ids:
            return []
        DebitAttempt.objects.filter(pk__in=ids).update(
            janitor_lease_until=clock + dt.timedelta(seconds=janitor_lease_seconds())
        )
    return list(DebitAttempt.objects.filter(pk__in=ids).select_related("mandate").order_by("pk"))


def _ask_statuses(attempts: list[DebitAttempt]) -> dict[int, object]:
    """The network's status of each attempt's key, by position (None: could not ask):
    in batch calls where the gateway takes them, else one call per key in flight."""
    gateway = get_gateway()
    size = min(settings.DEBIT_GATEWAY_BATCH_SIZE, MAX_COLLECTIONS_PER_BATCH)
    if size <= 0 or not supports_batch(gateway):

        def ask(attempt: DebitAttempt):
            try:
                return gateway.get_status(idempotency_key=attempt.idempotency_key)
            except GatewayError:
                return None

        return call_in_flight(attempts, ask)

    def ask_batch(batch: list[DebitAttempt]) -> list:
        try:
            return gateway.get_status_batch([a.idempotency_key for a in batch])
        except GatewayError:
            return [None] * len(batch)

    batches = [attempts[i : i + size] for i in range(0, len(attempts), size)]
    answered = call_in_flight(batches, ask_batch)
    statuses: dict[int, object] = {}
    for index, batch in enumerate(batches):
        answers = answered[index]
        for position, attempt in enumerate(batch):
            status = answers[position] if position < len(answers) else None
            # Only an answer for this very key settles it.
            ok = status is not None and status.idempotency_key == attempt.idempotency_key
            statuses[len(statuses)] = status if ok else None
    return statuses


def janitor_lease_seconds() -> float:
    """A pass never outlives the task's hard time limit (the pool kills it there), so
    neither need its lease: a janitor killed mid-pass holds its batch no longer."""
    return min(JANITOR_LEASE_SECONDS, settings.CELERY_TASK_TIME_LIMIT)


def janitor_time_budget() -> float:
    """Seconds one pass may spend asking the network: well inside the task's soft time
    limit, and inside the lease so no other janitor takes the same attempts meanwhile."""
    return min(settings.CELERY_TASK_SOFT_TIME_LIMIT, janitor_lease_seconds()) / 2


def settle_unresolved_attempts(
    *, now: dt.datetime | None = None, time_budget: float | None = None
) -> Counter:
    """Settle ``unknown`` attempts, and ``submitted`` ones a dead worker left, by asking
    the gateway what happened to each idempotency key. Never collects anything.

    Asks and records slice by slice, and starts no slice after ``time_budget``
    seconds (default ``janitor_time_budget()``): on a slow network a whole batch
    would outlast the task's time limit, and a pass stopped there used to lose
    every answer it had and hold the batch under its lease, pass after pass.
    What is not asked is free for the next pass at once.
    """
    now = now or timezone.now()
    stale_before = now - dt.timedelta(seconds=settings.DEBIT_SUBMITTED_STALE_AFTER_SECONDS)
    unseen_before = now - dt.timedelta(seconds=settings.DEBIT_UNKNOWN_NOT_RECEIVED_AFTER_SECONDS)
    attempts = _claim_unresolved(stale_before=stale_before)
    if not attempts:
        return Counter()
    budget = janitor_time_budget() if time_budget is None else time_budget
    deadline = time.monotonic() + budget
    size = max(1, settings.DEBIT_GATEWAY_CONCURRENCY) * JANITOR_ROUNDS_PER_SLICE
    outcomes: Counter = Counter()
    unsettled: list[int] = []
    run_ids: set[int] = set()
    try:
        for start in range(0, len(attempts), size):
            batch = attempts[start : start + size]
            if start and time.monotonic() >= deadline:
                unsettled += [a.pk for a in batch]
                continue
            settled = _settle_slice(batch, now=now, unseen_before=unseen_before)
            outcomes.update(record_debit_outcomes(claims=settled).values())
            done = {claim.attempt_id for claim, _ in settled}
            unsettled += [a.pk for a in batch if a.pk not in done]
            run_ids |= {claim.run_id for claim, _ in settled if claim.run_id}
    finally:
        # What this pass could not settle or did not ask about is free for the next
        # pass at once (a stop by the time limit included).
        if unsettled:
            DebitAttempt.objects.filter(pk__in=unsettled).update(janitor_lease_until=None)
    for run_id in run_ids:
        recount_debit_run(run_id=run_id)
    if outcomes:
        record_audit_event(
            actor=None,
            action=AuditAction.DEBIT_ATTEMPT_SETTLED_BY_JANITOR,
            object_type="debits.debitattempt",
            object_id="batch",
            summary={"settled": sum(outcomes.values()), "outcomes": dict(outcomes)},
        )
    return outcomes


def _settle_slice(
    attempts: list[DebitAttempt], *, now: dt.datetime, unseen_before: dt.datetime
) -> list[tuple[Claim, GatewayAnswer]]:
    """Ask the network about each attempt; the answers that settle one, as claims."""

    statuses = _ask_statuses(attempts)
    history = load_collection_context(
        list(
            Instalment.objects.filter(pk__in={a.instalment_id for a in attempts}).values(
                *INSTALMENT_FIELDS
            )
        ),
        today=timezone.localdate(now),
    ).history
    settled: list[tuple[Claim, GatewayAnswer]] = []
    for index, attempt in enumerate(attempts):
        status = statuses[index]
        if status is None:
            continue
        if status.found and status.outcome:
            answer = GatewayAnswer(
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
            answer = GatewayAnswer(raw_code=NOT_RECEIVED, message="The gateway never saw this key")
        h = history.get(attempt.instalment_id) or AttemptHistory(attempts=1)
        # The attempt being settled is not a prior try of its own.
        h.attempts -= 1
        h.in_flight = False
        settled.append(
            (
                Claim(
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
    return settled
