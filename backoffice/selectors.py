from django.db.models import F
from django.utils import timezone

from debits.models import Alert, Instalment, Mandate


def dashboard_stats() -> dict[str, int]:
    active = Mandate.objects.filter(state=Mandate.State.ACTIVE)
    return {
        "active_mandates": active.count(),
        "out_of_sync": active.exclude(
            synced_credential_version=F("card__credential_version")
        ).count(),
        "due_instalments": Instalment.objects.filter(
            state__in=Instalment.OPEN_STATES, due_date__lte=timezone.localdate()
        ).count(),
        "open_alerts": Alert.objects.filter(resolved_at__isnull=True).count(),
    }
