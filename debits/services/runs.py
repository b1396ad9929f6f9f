"""Starting a debit run: select what is due, record every skip, fan the rest out.

A run selects every open instalment due by its date, records each one it will
not collect as a ``SkippedInstalment`` with the reason, and enqueues the rest
in chunks for the debit workers (``debits.services.chunks``). Staff's "retry
selected" is a manual run over the chosen instalments.
"""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone

from accounts.audit import AuditAction, record_audit_event
from accounts.models import StaffUser
from debits.models import DebitAttempt, DebitRun, DebitRunChunk, Instalment, SkippedInstalment
from debits.services.eligibility import (
    INSTALMENT_FIELDS,
    load_collection_context,
    skip_reason,
)

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

# A run collects everything due on or before its date, so a date further ahead
# than one monthly cycle would collect next month's instalments early.
MAX_DAYS_AHEAD = 31


class DebitRunError(Exception):
    """A debit run or retry request that cannot be carried out (shown to staff)."""


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
    day happens once: asking again returns the run that exists. A date more
    than a month ahead is refused (``DebitRunError``), whoever asks.
    """
    if kind not in DebitRun.Kind.values:
        raise DebitRunError(f"Unknown kind of run: {kind}")
    latest = timezone.localdate() + dt.timedelta(days=MAX_DAYS_AHEAD)
    if on_date > latest:
        raise DebitRunError(f"A run may look at most a month ahead: {on_date} is after {latest}.")
    run, created = _create_run(on_date=on_date, kind=kind, actor=actor, dry_run=dry_run)
    if not created:
        return run
    record_audit_event(
        actor=actor,
        action=AuditAction.DEBIT_RUN_STARTED,
        target=run,
        summary={"run_date": on_date.isoformat(), "kind": kind, "dry_run": dry_run},
    )

    now = timezone.now()
    eligible: list[int] = []
    skipped = 0
    last_id = 0
    base = _open_instalments(on_date, instalment_ids).order_by("pk")
    while True:
        rows = list(base.filter(pk__gt=last_id).values(*INSTALMENT_FIELDS)[:SELECTION_BATCH])
        if not rows:
            break
        last_id = rows[-1]["id"]
        ctx = load_collection_context(rows, today=on_date)
        skips = []
        for row in rows:
            reason = skip_reason(
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
    with transaction.atomic():
        run.save(update_fields=fields)
        if not dry_run and chunks:
            _record_and_enqueue_chunks(run, chunks, honour_retry_schedule=honour_retry_schedule)
    return run


def _record_and_enqueue_chunks(
    run: DebitRun, chunks: list[list[int]], *, honour_retry_schedule: bool
) -> None:
    """Write every chunk's instalments in the same transaction as the run's totals,
    then send the messages after commit: a message the broker loses is only a
    delay, as the run sweeper sends unfinished chunks again."""
    now = timezone.now()
    recorded = DebitRunChunk.objects.bulk_create(
        DebitRunChunk(
            run=run,
            number=number,
            instalment_ids=ids,
            honour_retry_schedule=honour_retry_schedule,
            dispatched_at=now,
        )
        for number, ids in enumerate(chunks, start=1)
    )
    enqueue_chunks(run.pk, [(chunk.pk, chunk.instalment_ids) for chunk in recorded],
                   honour_retry_schedule=honour_retry_schedule)  # fmt: skip


def enqueue_chunks(
    run_id: int, chunks: list[tuple[int, list[int]]], *, honour_retry_schedule: bool
) -> None:
    """Send (chunk id, instalment ids) to the debit workers once the transaction commits."""
    from debits.tasks.collection import collect_debit_chunk_task

    def send():
        for chunk_id, instalment_ids in chunks:
            collect_debit_chunk_task.delay(
                run_id, instalment_ids, honour_retry_schedule, chunk_id=chunk_id
            )

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
        action=AuditAction.DEBIT_ATTEMPT_RETRY_REQUESTED,
        target=run,
        summary={
            "attempts": [a.pk for a in failed][:200],
            "instalments": len(instalment_ids),
            "not_retried": len(attempts) - len(failed),
        },
    )
    return run


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
