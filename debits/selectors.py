"""Read queries for staff pages and the admin."""

from django.db.models import QuerySet

from debits.models import DebitRun


def recent_debit_runs(limit: int = 50) -> QuerySet[DebitRun]:
    return DebitRun.objects.select_related("requested_by").order_by("-started_at", "-id")[:limit]
