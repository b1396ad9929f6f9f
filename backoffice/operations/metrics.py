"""/metrics in Prometheus' text format, with prometheus-client.

The figures live in PostgreSQL, shared by every web and worker process, so they
are read at scrape time (a fixed handful of set-based queries) by a collector on
a registry of its own, rather than kept in per-process counters that each
gunicorn worker would report differently.
"""

from django.http import HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily

from backoffice.operations.health import internal_only, served_queues
from debits.models import Alert, DebitAttempt, DebitRun
from debits.operations_selectors import LIVE_COUNT_CAP, operations_metrics


class BackofficeCollector:
    """Turns one ``operations_metrics()`` reading into metric families."""

    def __init__(self, figures: dict):
        self.figures = figures

    def collect(self):
        figures = self.figures
        runs = GaugeMetricFamily("backoffice_debit_runs", "Debit runs by state.", labels=["state"])
        for state in DebitRun.State.values:
            runs.add_metric([state], figures["runs_by_state"].get(state, 0))
        yield runs

        attempts = GaugeMetricFamily(
            "backoffice_debit_attempts_last_24h",
            "Debit attempts created in the last 24 hours, by outcome.",
            labels=["outcome"],
        )
        for state in DebitAttempt.State.values:
            attempts.add_metric([state], figures["attempts_by_state"].get(state, 0))
        yield attempts

        lag = figures["resync_lag"]
        yield HistogramMetricFamily(
            "backoffice_resync_lag_seconds",
            "From a credential change's commit to each mandate bound to it (last 24 hours).",
            buckets=[(repr(float(bound)), count) for bound, count in lag.buckets]
            + [("+Inf", lag.count)],
            sum_value=lag.sum_seconds,
        )

        snapshot = figures["out_of_sync_snapshot"]
        if snapshot is not None:
            # Absent before the first snapshot: a 0 would read as "all in sync".
            yield GaugeMetricFamily(
                "backoffice_mandates_out_of_sync",
                "Active mandates bound to an older credential than their card's, whole "
                "book, at the newest hourly snapshot.",
                value=snapshot.out_of_sync_mandates,
            )
            yield GaugeMetricFamily(
                "backoffice_mandates_out_of_sync_snapshot_timestamp_seconds",
                "When the whole-book out-of-sync figure was counted.",
                value=snapshot.taken_at.timestamp(),
            )
        recent = figures["out_of_sync_recent"]
        yield GaugeMetricFamily(
            "backoffice_mandates_out_of_sync_recent",
            "Active mandates left out of sync by a credential change of the last 24 hours, "
            f"live; counting stops at {LIVE_COUNT_CAP + 1}.",
            value=recent.value + (1 if recent.more else 0),
        )
        yield GaugeMetricFamily(
            "backoffice_outbox_backlog",
            "Outbox events not processed yet.",
            value=figures["outbox_backlog"],
        )
        yield GaugeMetricFamily(
            "backoffice_outbox_oldest_age_seconds",
            "Age of the oldest unprocessed outbox event (0 when none).",
            value=figures["outbox_oldest_age_seconds"],
        )

        alerts = GaugeMetricFamily(
            "backoffice_open_alerts",
            "Open alerts by kind and severity.",
            labels=["kind", "severity"],
        )
        for kind in Alert.Kind.values:
            for severity in Alert.Severity.values:
                alerts.add_metric([kind, severity], figures["open_alerts"].get((kind, severity), 0))
        yield alerts

        heartbeat = GaugeMetricFamily(
            "backoffice_worker_heartbeat_age_seconds",
            "Seconds since a worker on the queue last ran its heartbeat (absent: never).",
            labels=["queue"],
        )
        now = timezone.now()
        for queue in served_queues():
            beat_at = figures["heartbeats"].get(queue)
            if beat_at is not None:
                heartbeat.add_metric([queue], (now - beat_at).total_seconds())
        yield heartbeat


@require_GET
@never_cache
@internal_only
def metrics(request):
    registry = CollectorRegistry(auto_describe=False)
    registry.register(BackofficeCollector(operations_metrics()))
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
