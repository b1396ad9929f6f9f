"""Operations' own records and emergency controls: worker heartbeats, the hourly
snapshot behind the dashboard's charts, and re-syncing every stale mandate."""

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from accounts.audit import AuditAction, record_audit_event
from accounts.models import StaffUser
from debits.models import Alert, DebitAttempt, DebitDayFigures, OperationsSnapshot, WorkerHeartbeat
from debits.operations_selectors import (
    DASHBOARD_DAYS,
    active_mandates,
    due_instalments,
    out_of_sync_mandates,
    outbox_backlog,
)

PERMISSION_EMERGENCY = "debits.use_emergency_controls"


class EmergencyControlError(Exception):
    """An emergency action the rules refuse; the message is for the person."""


def record_worker_heartbeat(
    *, queue: str, hostname: str, now: dt.datetime | None = None
) -> WorkerHeartbeat:
    """A worker consuming ``queue`` ran the heartbeat task: one upserted row per queue."""
    known = {
        settings.CELERY_TASK_DEFAULT_QUEUE,
        settings.CELERY_QUEUE_RESYNC,
        settings.CELERY_QUEUE_DEBITS,
    }
    if queue not in known:
        # A heartbeat for a queue nobody serves would make /readyz report it alive.
        raise ValueError(f"unknown queue {queue!r}")
    now = now or timezone.now()
    heartbeat, _ = WorkerHeartbeat.objects.update_or_create(
        queue=queue[:40], defaults={"hostname": hostname[:200], "beat_at": now}
    )
    return heartbeat


def take_operations_snapshot(*, now: dt.datetime | None = None) -> OperationsSnapshot:
    """The hour's figures; taken again within the hour, the later figures win. The
    dashboard's days of collections are recounted with them."""
    now = now or timezone.now()
    count_debit_days(now=now)
    hour = now.replace(minute=0, second=0, microsecond=0)
    snapshot, _ = OperationsSnapshot.objects.update_or_create(
        hour=hour,
        defaults={
            "taken_at": now,
            "out_of_sync_mandates": out_of_sync_mandates().count(),
            "outbox_backlog": outbox_backlog().count(),
            "open_alerts": Alert.objects.filter(resolved_at__isnull=True).aggregate(n=Count("id"))[
                "n"
            ],
            "active_mandates": active_mandates().count(),
            "due_instalments": due_instalments(today=timezone.localdate(now)).count(),
        },
    )
    return snapshot


def count_debit_days(*, now: dt.datetime) -> list[dt.date]:
    """Recount ``DebitDayFigures`` for today, yesterday and each day of the dashboard's
    window that has none yet (one without attempts is probed again, by index, at each
    snapshot). Returns the days counted."""
    today = timezone.localdate(now)
    yesterday = today - dt.timedelta(days=1)
    first = today - dt.timedelta(days=DASHBOARD_DAYS - 1)
    counted = set(
        DebitDayFigures.objects.filter(day__gte=first, day__lt=yesterday)
        .values_list("day", flat=True)
        .distinct()
    )
    days = [
        day
        for day in (first + dt.timedelta(days=n) for n in range(DASHBOARD_DAYS))
        if day >= yesterday or day not in counted
    ]
    for day in days:
        _count_debit_day(day, now=now)
    return days


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


@transaction.atomic
def _count_debit_day(day: dt.date, *, now: dt.datetime) -> None:
    rows = (
        DebitAttempt.objects.filter(
            created_at__gte=_day_start(day),
            created_at__lt=_day_start(day + dt.timedelta(days=1)),
        )
        .values_list("state", "failure_code")
        .annotate(n=Count("id"))
        .order_by()
    )
    figures = [
        DebitDayFigures(day=day, state=state, failure_code=code, attempts=n, counted_at=now)
        for state, code, n in rows
    ]
    DebitDayFigures.objects.filter(day=day).delete()
    # Upserted: a snapshot taken at the same moment elsewhere may have inserted them.
    DebitDayFigures.objects.bulk_create(
        figures,
        update_conflicts=True,
        unique_fields=["day", "state", "failure_code"],
        update_fields=["attempts", "counted_at"],
    )


def _check_emergency(actor: StaffUser, reason: str) -> str:
    if not actor.is_authenticated or not actor.has_perm(PERMISSION_EMERGENCY):
        raise EmergencyControlError("Only operations may use the emergency controls.")
    reason = (reason or "").strip()
    if not reason:
        raise EmergencyControlError("An emergency action needs a reason.")
    return reason[:300]


@transaction.atomic
def request_resync_of_stale_mandates(*, actor: StaffUser, reason: str) -> int:
    """Re-sync every active mandate behind its card now, on the re-sync workers.

    Returns how many were behind when asked. The work itself is the
    reconciliation's stale-mandate pass with no grace period, enqueued after
    commit, so the page answers at once however many mandates there are.
    """
    reason = _check_emergency(actor, reason)
    behind = out_of_sync_mandates().count()
    record_audit_event(
        actor=actor,
        action=AuditAction.OPERATIONS_RESYNC_ALL_REQUESTED,
        object_type="debits.mandate",
        summary={"out_of_sync": behind},
        reason=reason,
    )

    def enqueue() -> None:
        from debits.tasks.operations import resync_stale_mandates_task

        resync_stale_mandates_task.delay(older_than_seconds=0, actor_id=actor.pk)

    transaction.on_commit(enqueue)
    return behind
