"""Starting a debit run: select what is due, record every skip, fan the rest out.

A run selects every open instalment due by its date, records each one it will
not collect as a ``SkippedInstalment`` with the reason, and enqueues the rest
in chunks for the debit workers (``debits.services.chunks``). Staff's "retry
selected" is a manual run over the chosen instalments.
"""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.db.models import Count, F
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import AuditAction, record_audit_event
from accounts.models import StaffUser
from debits.models import DebitAttempt, DebitRun, DebitRunChunk, Instalment, SkippedInstalment
from debits.services.eligibility import (
    INSTALMENT_FIELDS,
    load_collection_context,
    skip_reason,
)

# Instalments per worker task, and per batch call to the network
# (DEBIT_GATEWAY_BATCH_SIZE). Measured with bench/debit_throughput.py at 100,000
# due (2 shared cores): a chunk of 500 costs about 14 SQL statements whatever its
# size (0.029 per instalment) and 0.5-0.9 s of a worker, so the broker's ~1 ms
# per task and the network's 20 ms per batch call are each a few per cent of it;
# larger chunks could save at most those few per cent, while a chunk bounds what a
# crashed worker leaves to redelivery and the janitor, what one lost batch call
# leaves `unknown`, and how long the claim holds its 500 row locks.
CHUNK_SIZE = 500

# Rows per keyset page while a run selects its instalments: memory stays flat on
# a book of millions, and each page's full chunks are recorded and sent at once.
# Measured at 100,000 due (bench/debit_throughput.py): a page of 5,000 costs about
# 0.15 s (the page query, its four context queries, the rules in Python and one
# commit), so the first chunks reach the workers in a fraction of a second.
SELECTION_BATCH = 5000

# A run collects everything due on or before its date, at once: dated even one
# day ahead it would present instalments before they are due. So a run is never
# dated after the bank's today (docs/debit_engine.md, "A run").
MAX_DAYS_AHEAD = 0


class DebitRunError(Exception):
    """A debit run or retry request that cannot be carried out (shown to staff)."""


def bank_today() -> dt.date:
    """Today on the bank's calendar (Asia/Shanghai), whatever zone a request activated."""
    return timezone.localdate(timezone=timezone.get_default_timezone())


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
    day happens once: asking again returns the run that exists. A date after
    today in Asia/Shanghai is refused (``DebitRunError``), whoever asks: a run
    never presents an instalment before its due date.
    """
    if kind not in DebitRun.Kind.values:
        raise DebitRunError(f"Unknown kind of run: {kind}")
    latest = bank_today() + dt.timedelta(days=MAX_DAYS_AHEAD)
    if on_date > latest:
        raise DebitRunError(
            _(
                "A run may not be dated after today (%(today)s): a run dated %(date)s would "
                "collect instalments before their due date."
            )
            % {"today": latest.isoformat(), "date": on_date.isoformat()}
        )
    run, created = _create_run(on_date=on_date, kind=kind, actor=actor, dry_run=dry_run)
    if not created:
        return run
    record_audit_event(
        actor=actor,
        action=AuditAction.DEBIT_RUN_STARTED,
        target=run,
        summary={"run_date": on_date.isoformat(), "kind": kind, "dry_run": dry_run},
    )

    completed = _select_streamed(
        run,
        _open_instalments(on_date, instalment_ids).order_by("pk"),
        honour_retry_schedule=honour_retry_schedule,
    )
    # What the selection did; the chunks' progress is the workers' to report.
    fields = ["selected_count", "skipped_count", "chunks_total", "selection_finished_at"]
    run.refresh_from_db(fields=fields + (["state", "finished_at"] if completed else []))
    return run


def _select_streamed(
    run: DebitRun, base, *, honour_retry_schedule: bool, after_id: int = 0, first_number: int = 0
) -> bool:
    """Page through what is due in keyset order, recording each page's skips and full
    chunks (and sending them) as it goes: the workers collect the first chunks while
    the selection still reads the book. The run completes only once the selection
    has recorded its last chunk (``selection_finished_at``) and every chunk is done,
    whichever of the two comes last. True when the selection itself completed it
    (a dry run, nothing to collect).

    Each page is recorded under the run's row lock and only while the run's
    ``selection_cursor`` is where this selection left it: once the run sweeper has
    taken the selection over (``resume_stopped_selection``), a selection that was
    only slow stops at its next page instead of recording chunks twice."""
    now = timezone.now()
    on_date = run.run_date
    pending: list[int] = []
    number = first_number
    last_id = after_id
    while True:
        rows = list(base.filter(pk__gt=last_id).values(*INSTALMENT_FIELDS)[:SELECTION_BATCH])
        final = len(rows) < SELECTION_BATCH
        page_from = last_id
        if rows:
            last_id = rows[-1]["id"]
        ctx = load_collection_context(rows, today=on_date)
        skips = []
        eligible = 0
        for row in rows:
            reason = skip_reason(
                ctx, row, on_date=on_date, now=now, honour_retry_schedule=honour_retry_schedule
            )
            if reason is None:
                eligible += 1
                pending.append(row["id"])
            else:
                skips.append(
                    SkippedInstalment(
                        run=run, instalment_id=row["id"], reason=reason[0], detail=reason[1]
                    )
                )
        cut = len(pending) if final else len(pending) - len(pending) % CHUNK_SIZE
        chunks = [] if run.dry_run else [
            pending[i : min(i + CHUNK_SIZE, cut)] for i in range(0, cut, CHUNK_SIZE)
        ]  # fmt: skip
        pending = [] if run.dry_run else pending[cut:]
        with transaction.atomic():
            owner = (
                DebitRun.objects.select_for_update()
                .filter(
                    pk=run.pk,
                    state=DebitRun.State.RUNNING,
                    selection_cursor=page_from,
                    selection_finished_at__isnull=True,
                )
                .exists()
            )
            if not owner:
                return False  # taken over by the sweeper, or closed by an operator's re-run
            SkippedInstalment.objects.bulk_create(skips, ignore_conflicts=True)
            if chunks:
                _record_and_enqueue_chunks(
                    run, chunks, first_number=number + 1, honour_retry=honour_retry_schedule
                )
                number += len(chunks)
            changes = {
                "selected_count": F("selected_count") + eligible,
                "skipped_count": F("skipped_count") + len(skips),
                "chunks_total": F("chunks_total") + len(chunks),
                "selection_cursor": last_id,
                "selection_progress_at": timezone.now(),
            }
            if final:
                changes["selection_finished_at"] = timezone.now()
            DebitRun.objects.filter(pk=run.pk).update(**changes)
            # Always asked on the last page: every chunk may be done already.
            completed = final and complete_run_if_done(run.pk) and not number
        if final:
            return completed


def resume_stopped_selection(
    *, run_id: int, seen_progress_at: dt.datetime | None, stale_before: dt.datetime
) -> int | None:
    """Finish the selection of a run whose selection stopped (its worker was killed)
    and has recorded nothing since ``stale_before``: from after the highest instalment
    in a chunk it recorded, leaving out what it already skipped. The run's counters
    are first set back to what its chunks and skips hold (instalments the stopped
    selection counted but had not chunked yet are selected again). Returns the
    instalment id it resumed after, or None when the run no longer needs it (another
    sweeper took it, or the selection moved or finished meanwhile).

    ``seen_progress_at`` is the run's ``selection_progress_at`` as the caller found it
    stale: under the row lock it must be unchanged, so of two sweepers that found the
    run stopped, the one that locks second finds the first's takeover and leaves it."""
    with transaction.atomic():
        run = (
            DebitRun.objects.select_for_update()
            .filter(pk=run_id, state=DebitRun.State.RUNNING, selection_finished_at__isnull=True)
            .exclude(kind=DebitRun.Kind.MANUAL)  # its instalment list is not recorded
            .first()
        )
        if (
            run is None
            or run.selection_progress_at != seen_progress_at
            or (run.selection_progress_at or run.started_at) >= stale_before
        ):
            return None
        chunks = list(DebitRunChunk.objects.filter(run=run).values_list("number", "instalment_ids"))
        resume_after = max((max(ids) for _, ids in chunks if ids), default=0)
        honour = run.kind != DebitRun.Kind.MANUAL
        DebitRun.objects.filter(pk=run.pk).update(
            selection_cursor=resume_after,
            selection_progress_at=timezone.now(),
            selected_count=sum(len(ids) for _, ids in chunks),
            skipped_count=SkippedInstalment.objects.filter(run=run).count(),
            chunks_total=len(chunks),
        )
        record_audit_event(
            actor=None,
            action=AuditAction.DEBIT_RUN_RERUN,
            target=run,
            summary={"selection_resumed_after_instalment": resume_after, "chunks": len(chunks)},
            reason="The run's selection stopped; the run sweeper resumed it.",
        )
    base = (
        _open_instalments(run.run_date, None)
        .exclude(pk__in=SkippedInstalment.objects.filter(run=run).values("instalment_id"))
        .order_by("pk")
    )
    _select_streamed(
        run,
        base,
        honour_retry_schedule=honour,
        after_id=resume_after,
        first_number=max((number for number, _ in chunks), default=0),
    )
    return resume_after


def complete_run_if_done(run_id: int) -> bool:
    """Complete the run (counters recounted from the rows) once its selection is over
    and every chunk is done. Called by the selection's last page and by every chunk
    that finishes; the run's row lock orders them, so exactly one completes it."""
    finished = DebitRun.objects.filter(
        pk=run_id,
        state=DebitRun.State.RUNNING,
        selection_finished_at__isnull=False,
        chunks_done__gte=F("chunks_total"),
    ).update(state=DebitRun.State.COMPLETED, finished_at=timezone.now())
    if finished:
        recount_debit_run(run_id=run_id)
    return bool(finished)


def _record_and_enqueue_chunks(
    run: DebitRun, chunks: list[list[int]], *, first_number: int, honour_retry: bool
) -> None:
    """Write the chunks' instalments in the transaction that counts them for the run,
    then send the messages after commit: a message the broker loses is only a
    delay, as the run sweeper sends unfinished chunks again."""
    now = timezone.now()
    recorded = DebitRunChunk.objects.bulk_create(
        DebitRunChunk(
            run=run,
            number=number,
            instalment_ids=ids,
            honour_retry_schedule=honour_retry,
            dispatched_at=now,
        )
        for number, ids in enumerate(chunks, start=first_number)
    )
    enqueue_chunks(run.pk, [(chunk.pk, chunk.instalment_ids) for chunk in recorded],
                   honour_retry_schedule=honour_retry)  # fmt: skip


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
