from django.utils import timezone

from debits.models import Alert, DebitRun, Instalment, Mandate
from debits.operations_selectors import (
    latest_snapshot,
    out_of_sync_after_recent_changes,
    out_of_sync_figures,
)

DASHBOARD_LIST_LENGTH = 8


def dashboard_stats() -> dict:
    """The landing page's figures. Out of sync as on the operations dashboard: live for the
    recent changes, the whole book from the hourly snapshot (an exact count joins every
    mandate to its card)."""
    now = timezone.now()
    return {
        "active_mandates": Mandate.objects.filter(state=Mandate.State.ACTIVE).count(),
        **out_of_sync_figures(now=now, snapshot=latest_snapshot()),
        "due_instalments": Instalment.objects.filter(
            state__in=Instalment.OPEN_STATES, due_date__lte=timezone.localdate(now)
        ).count(),
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
    return (
        out_of_sync_after_recent_changes(now=timezone.now())
        .select_related("card")
        .order_by("card__credential_changed_at", "id")[:limit]
    )


def latest_debit_runs(limit: int = 5):
    return DebitRun.objects.order_by("-started_at", "-id")[:limit]
