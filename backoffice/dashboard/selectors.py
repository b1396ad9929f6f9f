from django.utils import timezone

from debits.models import Alert, DebitRun
from debits.operations_selectors import (
    book_counts,
    latest_snapshot,
    longest_waiting_after_recent_changes,
    out_of_sync_figures,
)

DASHBOARD_LIST_LENGTH = 8


def dashboard_stats() -> dict:
    """The landing page's figures: the whole book's counts from today's hourly snapshot
    (live and capped before it), out of sync as on the operations dashboard."""
    now = timezone.now()
    snapshot = latest_snapshot()
    return {
        **book_counts(now=now, snapshot=snapshot),
        **out_of_sync_figures(now=now, snapshot=snapshot),
        "open_alerts": Alert.objects.filter(resolved_at__isnull=True).count(),
    }


def open_alerts(limit: int = DASHBOARD_LIST_LENGTH):
    return (
        Alert.objects.filter(resolved_at__isnull=True)
        .select_related("card", "mandate")
        .order_by("-last_seen_at", "-id")[:limit]
    )


def mandates_out_of_sync(limit: int = DASHBOARD_LIST_LENGTH):
    """Active mandates a recent credential change left behind, longest waiting first:
    found from the changed cards by index. Older drift is the reconciliation's and the
    operations dashboard's."""
    return longest_waiting_after_recent_changes(now=timezone.now(), limit=limit)


def latest_debit_runs(limit: int = 5):
    return DebitRun.objects.order_by("-started_at", "-id")[:limit]
