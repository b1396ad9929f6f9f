from django.utils import timezone

from debits.models import Alert, DebitRun, Instalment, Mandate

DASHBOARD_LIST_LENGTH = 8


def dashboard_stats() -> dict[str, int]:
    active = Mandate.objects.filter(state=Mandate.State.ACTIVE)
    return {
        "active_mandates": active.count(),
        "out_of_sync": active.out_of_sync().count(),
        "due_instalments": Instalment.objects.filter(
            state__in=Instalment.OPEN_STATES, due_date__lte=timezone.localdate()
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
    """Active mandates behind their card's credential version, longest waiting first."""
    return (
        Mandate.objects.filter(state=Mandate.State.ACTIVE)
        .out_of_sync()
        .select_related("card")
        .order_by("card__credential_changed_at", "id")[:limit]
    )


def latest_debit_runs(limit: int = 5):
    return DebitRun.objects.order_by("-started_at", "-id")[:limit]
