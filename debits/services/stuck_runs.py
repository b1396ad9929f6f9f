"""Debit runs that stopped making progress: the run sweeper and staff's "re-run".

A run records its chunks (``DebitRunChunk``) before it sends a single message,
so what a lost message or a killed worker left undone is in PostgreSQL: a chunk
sent longer ago than ``DEBIT_CHUNK_LEASE_SECONDS`` (past a task's hard time limit,
so no worker can still be on it) and not finished is sent again. Chunks claim
only instalments with nothing in flight, so a chunk delivered twice never
collects twice; every due instalment ends attempted or skipped with a reason.
"""

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_noop

from accounts.audit import AuditAction, record_audit_event
from accounts.models import StaffUser
from debits.models import Alert, DebitRun, DebitRunChunk
from debits.services.alerts import raise_alert, resolve_cleared_alerts
from debits.services.reconciliation import DetectorReport
from debits.services.runs import enqueue_chunks, resume_stopped_selection, run_debit_job

# Chunks sent again per pass: a run of a million instalments is 2,000 chunks.
CHUNKS_PER_PASS = 2000
PERMISSION_EMERGENCY = "debits.use_emergency_controls"


class StuckRunError(Exception):
    """A re-run staff asked for that cannot be done (shown to staff)."""


def stuck_run_alert_key(run_id: int) -> str:
    return f"debit_run_stuck:run:{run_id}"


def _resend(chunks: list[DebitRunChunk]) -> None:
    """Count one more dispatch of each chunk and send it after commit, per run. The
    lease starts on the clock, whatever ``now`` the caller judged staleness by."""
    DebitRunChunk.objects.filter(pk__in=[c.pk for c in chunks]).update(
        dispatched_at=timezone.now(), dispatches=F("dispatches") + 1
    )
    by_run: dict[tuple[int, bool], list[tuple[int, list[int]]]] = {}
    for chunk in chunks:
        by_run.setdefault((chunk.run_id, chunk.honour_retry_schedule), []).append(
            (chunk.pk, chunk.instalment_ids)
        )
    for (run_id, honour), batch in by_run.items():
        enqueue_chunks(run_id, batch, honour_retry_schedule=honour)


def reconcile_stuck_runs(
    *, dry_run: bool = False, now: dt.datetime | None = None
) -> DetectorReport:
    """Send again the chunks no worker finished; alert on a run that keeps not finishing,
    or that stopped before its chunks were recorded; resolve once it is no longer running."""
    now = now or timezone.now()
    report = DetectorReport(detector="runs", dry_run=dry_run)
    lease_ended = now - dt.timedelta(seconds=settings.DEBIT_CHUNK_LEASE_SECONDS)
    with transaction.atomic():
        # skip_locked: two sweepers (or a sweeper and a staff re-run) never send
        # the same chunk twice in one round.
        stale = list(
            DebitRunChunk.objects.select_for_update(skip_locked=True)
            .filter(
                finished_at__isnull=True,
                run__state=DebitRun.State.RUNNING,
                dispatched_at__lt=lease_ended,
            )
            .order_by("dispatched_at", "pk")[:CHUNKS_PER_PASS]
        )
        report.found = len(stale)
        if dry_run:
            return report
        _resend(stale)
        report.repaired = len(stale)
    stuck_runs = set(
        DebitRunChunk.objects.filter(
            finished_at__isnull=True,
            run__state=DebitRun.State.RUNNING,
            dispatches__gt=settings.DEBIT_RUN_STUCK_ALERT_DISPATCHES,
        ).values_list("run_id", flat=True)
    )
    # A run whose selection stopped (its worker was killed) never completes, whatever
    # its chunks do: the sweeper resumes the selection after the last instalment it
    # chunked. Silent past DEBIT_RUN_SELECTION_STALE_SECONDS (longer than a task's
    # hard time limit) no worker can still be selecting for it.
    selection_stale = now - dt.timedelta(seconds=settings.DEBIT_RUN_SELECTION_STALE_SECONDS)
    found_stopped = dict(
        DebitRun.objects.filter(state=DebitRun.State.RUNNING, selection_finished_at__isnull=True)
        .filter(
            Q(selection_progress_at__lt=selection_stale)
            | Q(selection_progress_at__isnull=True, started_at__lt=selection_stale)
        )
        .values_list("pk", "selection_progress_at")
    )
    stopped = set(found_stopped)
    for run_id, seen in sorted(found_stopped.items()):
        resumed_after = resume_stopped_selection(
            run_id=run_id, seen_progress_at=seen, stale_before=selection_stale
        )
        if resumed_after is not None:
            stopped.discard(run_id)
            report.repaired += 1
            report.notes.append(
                f"run #{run_id} stopped during selection: resumed after instalment {resumed_after}"
            )
    stuck_runs |= stopped
    for run in DebitRun.objects.filter(pk__in=stuck_runs):
        raise_alert(
            kind=Alert.Kind.DEBIT_RUN_STUCK,
            dedup_key=stuck_run_alert_key(run.pk),
            severity=Alert.Severity.CRITICAL,
            message=gettext_noop(
                "Debit run #%(run)s of %(date)s has made no progress since %(since)s: "
                "%(done)s of %(total)s chunks done. Re-run it from the operations "
                "dashboard once the workers and broker are back."
            ),
            params={
                "run": run.pk,
                "date": run.run_date.isoformat(),
                "since": f"{timezone.localtime(run.started_at):%H:%M}",
                "done": run.chunks_done,
                "total": run.chunks_total,
            },
        )
        report.alerts_raised += 1
    open_keys = Alert.objects.filter(
        kind=Alert.Kind.DEBIT_RUN_STUCK, resolved_at__isnull=True
    ).values_list("dedup_key", flat=True)
    open_runs = {int(key.rsplit(":", 1)[1]): key for key in open_keys}
    finished = DebitRun.objects.filter(pk__in=list(open_runs)).exclude(state=DebitRun.State.RUNNING)
    report.alerts_resolved = resolve_cleared_alerts(
        dedup_keys=[open_runs[pk] for pk in finished.values_list("pk", flat=True)],
        note="The run is no longer running.",
    )
    return report


@transaction.atomic
def rerun_stuck_debit_run(*, run: DebitRun, actor: StaffUser, reason: str) -> DebitRun:
    """Operations re-run a run that stopped: its unfinished chunks are sent again at
    once (lease or not); a run that stopped before its selection recorded its last
    chunk is closed as failed and a retry run of its date takes over. Returns the run
    doing the work."""
    if not actor.is_authenticated or not actor.has_perm(PERMISSION_EMERGENCY):
        raise StuckRunError("Only operations may re-run a debit run.")
    reason = (reason or "").strip()
    if not reason:
        raise StuckRunError("A re-run needs a reason.")
    run = DebitRun.objects.select_for_update().get(pk=run.pk)
    if run.state != DebitRun.State.RUNNING:
        raise StuckRunError(f"{run} is {run.get_state_display().lower()}, not running.")
    unfinished = list(
        DebitRunChunk.objects.select_for_update(skip_locked=True).filter(
            run=run, finished_at__isnull=True
        )
    )
    if unfinished and run.selection_finished_at is not None:
        _resend(unfinished)
        record_audit_event(
            actor=actor,
            action=AuditAction.DEBIT_RUN_RERUN,
            target=run,
            summary={"chunks_sent_again": len(unfinished)},
            reason=reason[:300],
        )
        return run
    if run.selection_finished_at is not None:
        raise StuckRunError(f"Every chunk of {run} is done; it completes by itself.")
    run.state, run.finished_at = DebitRun.State.FAILED, timezone.now()
    run.save(update_fields=["state", "finished_at"])
    record_audit_event(
        actor=actor,
        action=AuditAction.DEBIT_RUN_RERUN,
        target=run,
        summary={"stopped_during_selection": True},
        reason=reason[:300],
    )
    return run_debit_job(on_date=run.run_date, kind=DebitRun.Kind.RETRY, actor=actor)
