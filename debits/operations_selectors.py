"""Read queries for operations: the dashboard's figures, /readyz and /metrics.

Every figure is one set-based query (a count or a GROUP BY in the database),
never rows loaded into Python, so each page or scrape costs a fixed number of
queries however large the book. What history cannot give back later (how many
mandates were out of sync at 3 a.m.) and what is too big to count on every view
(the whole book's counts, a month of attempts) come from the hourly snapshot:
``OperationsSnapshot`` and ``DebitDayFigures``.
"""

import datetime as dt
from dataclasses import dataclass

from django.db import connection
from django.db.models import (
    Case,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Max,
    Min,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncHour
from django.utils import timezone

from accounts.models import OutboxEvent, PasswordChange
from debits.models import (
    Alert,
    CollectionPause,
    DebitAttempt,
    DebitDayFigures,
    DebitRun,
    Instalment,
    Mandate,
    MandateSync,
    OperationsSnapshot,
    WorkerHeartbeat,
)

DASHBOARD_DAYS = 30
OPEN_ALERTS_SHOWN = 50
# The dashboard counts, live, the mandates left out of sync by the credential changes
# of this last window (the real-time re-sync's own work); older drift is the
# reconciliation's, and the whole book's figure comes from the hourly snapshot: an
# exact count joins every mandate to its card (2.5 s on a million-card book).
RECENT_CHANGES_WINDOW = dt.timedelta(hours=24)
# Past this many the live figure reads "more than": the count stops there instead
# of walking every card a mass password change touched. Each counted mandate is an
# index probe; a thousand cost about 10 ms, and past a thousand the operator acts
# the same way (the emergency re-sync), so an exact figure buys nothing.
LIVE_COUNT_CAP = 1_000
# Upper bounds (seconds) of the re-sync lag histogram: from a fast re-sync (well
# under a second) to one that waited out the outbox sweeper and retries (an hour).
RESYNC_LAG_BUCKETS_SECONDS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)


def active_mandates():
    return Mandate.objects.filter(state=Mandate.State.ACTIVE)


def due_instalments(*, today: dt.date):
    return Instalment.objects.filter(state__in=Instalment.OPEN_STATES, due_date__lte=today)


def out_of_sync_mandates():
    """Active mandates whose agreement is bound to an older credential than the card's."""
    return active_mandates().out_of_sync()


def out_of_sync_after_recent_changes(*, now: dt.datetime):
    """Active mandates out of sync whose card's credential changed within
    ``RECENT_CHANGES_WINDOW`` of ``now``: found from the changed cards (an index on
    the change time), not by joining the whole book."""
    return out_of_sync_mandates().filter(
        card__credential_changed_at__gte=now - RECENT_CHANGES_WINDOW
    )


# The cards changed in the window, in the order of their change, each probed for its
# out-of-sync active mandate (LATERAL, fenced with OFFSET 0) until enough are found.
# Joined and sorted as one set instead, PostgreSQL hashes every mandate of the book
# once a mass change puts thousands of cards in the window (320 against 9 ms).
_LONGEST_WAITING_SQL = """
SELECT m.id
FROM accounts_card c
CROSS JOIN LATERAL (
    SELECT m.id FROM debits_mandate m
    WHERE m.card_id = c.id AND m.state = %s
      AND m.synced_credential_version <> c.credential_version
    OFFSET 0
) m
WHERE c.credential_changed_at >= %s
ORDER BY c.credential_changed_at, c.id, m.id
LIMIT %s
"""


def longest_waiting_after_recent_changes(*, now: dt.datetime, limit: int) -> list[Mandate]:
    """The first ``limit`` of ``out_of_sync_after_recent_changes``, longest waiting
    first, each with its card."""
    if connection.vendor != "postgresql":
        return list(
            out_of_sync_after_recent_changes(now=now)
            .select_related("card")
            .order_by("card__credential_changed_at", "card_id", "id")[:limit]
        )
    with connection.cursor() as cursor:
        cursor.execute(
            _LONGEST_WAITING_SQL, [Mandate.State.ACTIVE, now - RECENT_CHANGES_WINDOW, limit]
        )
        ids = [row[0] for row in cursor.fetchall()]
    found = Mandate.objects.select_related("card").in_bulk(ids)
    return [found[pk] for pk in ids if pk in found]


@dataclass(frozen=True)
class CappedCount:
    """A count that stopped at ``cap``: ``more`` says the true figure is higher."""

    value: int
    more: bool


def capped_count(queryset, cap: int | None = None) -> CappedCount:
    """How many rows ``queryset`` has, counting no further than ``cap`` + 1 rows
    (``LIVE_COUNT_CAP`` unless told)."""
    cap = LIVE_COUNT_CAP if cap is None else cap
    found = queryset.order_by().values("pk")[: cap + 1].count()
    return CappedCount(value=min(found, cap), more=found > cap)


def outbox_backlog():
    return OutboxEvent.objects.filter(processed_at__isnull=True)


# --- Re-sync lag: from the credential change's commit to the mandate bound to it ------


def resync_lags(*, since: dt.datetime):
    """Succeeded re-syncs since ``since``, each annotated with ``lag``: how long after
    the credential change that produced its version the mandate was bound to it."""
    changed_at = (
        PasswordChange.objects.filter(
            card_id=OuterRef("mandate__card_id"),
            credential_version=OuterRef("target_credential_version"),
        )
        .order_by("changed_at")
        .values("changed_at")[:1]
    )
    return (
        MandateSync.objects.filter(outcome=MandateSync.Outcome.SUCCEEDED, finished_at__gte=since)
        .annotate(changed_at=Subquery(changed_at))
        .filter(changed_at__isnull=False)
        .annotate(
            lag=ExpressionWrapper(F("finished_at") - F("changed_at"), output_field=DurationField())
        )
    )


def _cumulative_bucket_counts(prefix: str = "le_") -> dict:
    return {
        f"{prefix}{index}": Count("id", filter=Q(lag__lte=dt.timedelta(seconds=bound)))
        for index, bound in enumerate(RESYNC_LAG_BUCKETS_SECONDS)
    }


@dataclass(frozen=True)
class LagHistogram:
    """Cumulative counts per bucket bound, as Prometheus histograms keep them."""

    buckets: tuple[tuple[float, int], ...]
    count: int
    sum_seconds: float

    def quantile(self, q: float) -> float | None:
        """Estimated by linear interpolation inside the bucket, as Prometheus's
        histogram_quantile does: exact percentiles would need percentile_cont,
        which SQLite lacks, and the bucket bounds are finer than anyone acts on."""
        if not self.count:
            return None
        rank = q * self.count
        lower_bound, lower_count = 0.0, 0
        for bound, cumulative in self.buckets:
            if cumulative >= rank:
                inside = cumulative - lower_count
                if inside <= 0:
                    return bound
                return lower_bound + (bound - lower_bound) * (rank - lower_count) / inside
            lower_bound, lower_count = bound, cumulative
        return self.buckets[-1][0]


def _histogram(row: dict) -> LagHistogram:
    buckets = tuple(
        (bound, row[f"le_{index}"]) for index, bound in enumerate(RESYNC_LAG_BUCKETS_SECONDS)
    )
    total = row["n"] or 0
    lag_sum = row.get("lag_sum")
    return LagHistogram(
        buckets=buckets,
        count=total,
        sum_seconds=lag_sum.total_seconds() if lag_sum else 0.0,
    )


def resync_lag_histogram(*, since: dt.datetime) -> LagHistogram:
    row = resync_lags(since=since).aggregate(
        n=Count("id"), lag_sum=Sum("lag"), **_cumulative_bucket_counts()
    )
    return _histogram(row)


def resync_lag_per_hour(*, since: dt.datetime) -> list[tuple[dt.datetime, LagHistogram]]:
    rows = (
        resync_lags(since=since)
        .annotate(hour=TruncHour("finished_at"))
        .values("hour")
        .annotate(n=Count("id"), **_cumulative_bucket_counts())
        .order_by("hour")
    )
    return [(row["hour"], _histogram(row)) for row in rows]


# --- The dashboard ----------------------------------------------------------------------


def _window_start(now: dt.datetime, days: int) -> dt.datetime:
    start_day = timezone.localdate(now) - dt.timedelta(days=days - 1)
    return timezone.make_aware(dt.datetime.combine(start_day, dt.time.min))


def collected_and_failed_per_day(*, since: dt.datetime) -> list[dict]:
    """Attempts per day since ``since`` by outcome, as the hourly snapshot counted them."""

    def attempts_in(state):
        return Coalesce(Sum("attempts", filter=Q(state=state)), 0)

    return list(
        DebitDayFigures.objects.filter(day__gte=timezone.localdate(since))
        .values("day")
        .annotate(
            collected=attempts_in(DebitAttempt.State.SUCCEEDED),
            failed=attempts_in(DebitAttempt.State.FAILED),
            unknown=attempts_in(DebitAttempt.State.UNKNOWN),
        )
        .order_by("day")
    )


def failures_by_code(*, since: dt.datetime) -> list[tuple[str, int]]:
    return list(
        DebitDayFigures.objects.filter(
            state=DebitAttempt.State.FAILED, day__gte=timezone.localdate(since)
        )
        .values("failure_code")
        .annotate(n=Sum("attempts"))
        .order_by("-n", "failure_code")
        .values_list("failure_code", "n")
    )


def open_alerts_by_severity() -> dict[str, int]:
    counts = dict(
        Alert.objects.filter(resolved_at__isnull=True)
        .values("severity")
        .annotate(n=Count("id"))
        .values_list("severity", "n")
    )
    return {severity: counts.get(severity, 0) for severity in SEVERITY_ORDER}


def out_of_sync_figures(*, now: dt.datetime, snapshot: OperationsSnapshot | None) -> dict:
    """The out-of-sync figures both dashboards show: the live count a recent change left
    behind (capped), the window it covers, and the whole book's from ``snapshot``."""
    return {
        "out_of_sync_recent": capped_count(out_of_sync_after_recent_changes(now=now)),
        "recent_changes_hours": int(RECENT_CHANGES_WINDOW.total_seconds() // 3600),
        "out_of_sync_snapshot": snapshot,
    }


def book_counts(*, now: dt.datetime, snapshot: OperationsSnapshot | None) -> dict:
    """The landing page's whole-book counts: active mandates and instalments due.

    From ``snapshot`` when it was taken today (an exact count walks a million
    mandates and every open instalment: half a second on every page view); else live,
    counting no further than ``LIVE_COUNT_CAP``. ``book_counts_at`` says which.
    """
    today = timezone.localdate(now)
    if (
        snapshot is not None
        and snapshot.due_instalments is not None
        and timezone.localdate(snapshot.taken_at) == today
    ):
        return {
            "active_mandates": CappedCount(value=snapshot.active_mandates or 0, more=False),
            "due_instalments": CappedCount(value=snapshot.due_instalments, more=False),
            "book_counts_at": snapshot.taken_at,
        }
    return {
        "active_mandates": capped_count(active_mandates()),
        "due_instalments": capped_count(due_instalments(today=today)),
        "book_counts_at": None,
    }


def latest_snapshot() -> OperationsSnapshot | None:
    return (
        OperationsSnapshot.objects.order_by("-hour")
        .only("hour", "taken_at", "out_of_sync_mandates", "active_mandates", "due_instalments")
        .first()
    )


def snapshots_since(*, since: dt.datetime) -> list[OperationsSnapshot]:
    return list(
        OperationsSnapshot.objects.filter(hour__gte=since)
        .order_by("hour")
        .only("hour", "taken_at", "out_of_sync_mandates")
    )


# Most severe first (the severities' names do not sort that way).
SEVERITY_ORDER = (Alert.Severity.CRITICAL, Alert.Severity.WARNING, Alert.Severity.INFO)


def open_alerts(limit: int = OPEN_ALERTS_SHOWN):
    rank = Case(
        *(When(severity=severity, then=Value(i)) for i, severity in enumerate(SEVERITY_ORDER)),
        default=Value(len(SEVERITY_ORDER)),
    )
    return (
        Alert.objects.filter(resolved_at__isnull=True)
        .select_related("card", "mandate", "acknowledged_by")
        .order_by(rank, "-last_seen_at", "-id")[:limit]
    )


def todays_debit_runs(*, today: dt.date):
    return DebitRun.objects.filter(run_date=today).order_by("-started_at", "-id")[:10]


def operations_dashboard(*, now: dt.datetime | None = None) -> dict:
    """Everything the operations dashboard shows: a fixed number of queries."""
    now = now or timezone.now()
    since = _window_start(now, DASHBOARD_DAYS)
    backlog = outbox_backlog().aggregate(n=Count("id"), oldest=Min("created_at"))
    snapshots = snapshots_since(since=since)
    return {
        "since": since,
        "now": now,
        # The whole book's figure as of the newest hourly snapshot (None before the first).
        **out_of_sync_figures(now=now, snapshot=snapshots[-1] if snapshots else None),
        "outbox_backlog": backlog["n"],
        "outbox_oldest": backlog["oldest"],
        "book_paused": CollectionPause.objects.filter(
            scope=CollectionPause.Scope.BOOK, resumed_at__isnull=True
        )
        .select_related("paused_by")
        .first(),
        "runs_today": list(todays_debit_runs(today=timezone.localdate(now))),
        "per_day": collected_and_failed_per_day(since=since),
        "failures_by_code": failures_by_code(since=since),
        "lag_per_hour": resync_lag_per_hour(since=since),
        "out_of_sync_over_time": [(s.hour, s.out_of_sync_mandates) for s in snapshots],
        "alerts_by_severity": open_alerts_by_severity(),
        "open_alerts": list(open_alerts()),
    }


# --- Health and metrics -----------------------------------------------------------------


def worker_heartbeats() -> dict[str, dt.datetime]:
    return dict(WorkerHeartbeat.objects.values_list("queue", "beat_at"))


def beat_last_seen() -> dt.datetime | None:
    """When beat last sent a scheduled task, as django-celery-beat records it (it
    writes its run times to the database every few minutes)."""
    from django_celery_beat.models import PeriodicTask

    return PeriodicTask.objects.filter(enabled=True).aggregate(last=Max("last_run_at"))["last"]


def operations_metrics(*, now: dt.datetime | None = None) -> dict:
    """The figures /metrics exposes, each from one query."""
    now = now or timezone.now()
    backlog = outbox_backlog().aggregate(n=Count("id"), oldest=Min("created_at"))
    return {
        "runs_by_state": dict(
            DebitRun.objects.values("state").annotate(n=Count("id")).values_list("state", "n")
        ),
        "attempts_by_state": dict(
            DebitAttempt.objects.filter(created_at__gte=now - dt.timedelta(days=1))
            .values("state")
            .annotate(n=Count("id"))
            .values_list("state", "n")
        ),
        "resync_lag": resync_lag_histogram(since=now - dt.timedelta(days=1)),
        # Exact over the whole book only hourly (a join of every mandate to its card,
        # seconds on a million cards), never on every scrape; live for recent changes.
        **out_of_sync_figures(now=now, snapshot=latest_snapshot()),
        "outbox_backlog": backlog["n"],
        "outbox_oldest_age_seconds": (now - backlog["oldest"]).total_seconds()
        if backlog["oldest"]
        else 0.0,
        "open_alerts": {
            (kind, severity): n
            for kind, severity, n in Alert.objects.filter(resolved_at__isnull=True)
            .values("kind", "severity")
            .annotate(n=Count("id"))
            .order_by()
            .values_list("kind", "severity", "n")
        },
        "heartbeats": worker_heartbeats(),
    }
