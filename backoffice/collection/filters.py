"""Filters for the debit attempt list and its CSV export (django-filter)."""

import django_filters

from backoffice.ui.date_filters import day_from_filter, day_to_filter
from debits.models import DebitAttempt
from debits.outcomes import OUTCOMES


class UnresolvedAttemptFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(
        choices=[
            (DebitAttempt.State.FAILED, "Failed"),
            (DebitAttempt.State.UNKNOWN, "Unknown"),
        ],
        empty_label="Failed or unknown",
    )
    failure_code = django_filters.ChoiceFilter(
        choices=[
            (code, code.replace("_", " ")) for code in sorted(OUTCOMES) if code != "succeeded"
        ],
        empty_label="Any failure code",
    )
    run = django_filters.NumberFilter(field_name="run_id", label="Run #")
    created_from = day_from_filter("created_at")
    created_to = day_to_filter("created_at")
    loan = django_filters.CharFilter(
        field_name="instalment__loan__reference", lookup_expr="iexact", label="Loan reference"
    )
    mandate = django_filters.CharFilter(
        field_name="mandate__reference", lookup_expr="iexact", label="Mandate reference"
    )

    class Meta:
        model = DebitAttempt
        fields = ["state", "failure_code", "run"]
