"""Filters for the debit attempt list and its CSV export (django-filter)."""

import django_filters
from django.utils.translation import gettext_lazy as _

from backoffice.ui.date_filters import day_from_filter, day_to_filter
from debits.labels import FAILURE_CODE_LABELS
from debits.models import DebitAttempt
from debits.outcomes import OUTCOMES


class UnresolvedAttemptFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(
        choices=[
            (DebitAttempt.State.FAILED, _("Failed")),
            (DebitAttempt.State.UNKNOWN, _("Unknown")),
        ],
        label=_("State"),
        empty_label=_("Failed or unknown"),
    )
    failure_code = django_filters.ChoiceFilter(
        label=_("Failure"),
        choices=[
            (code, FAILURE_CODE_LABELS.get(code, code))
            for code in sorted(OUTCOMES)
            if code != "succeeded"
        ],
        empty_label=_("Any failure"),
    )
    run = django_filters.NumberFilter(field_name="run_id", label=_("Run #"))
    created_from = day_from_filter("created_at")
    created_to = day_to_filter("created_at")
    loan = django_filters.CharFilter(
        field_name="instalment__loan__reference", lookup_expr="iexact", label=_("Loan reference")
    )
    mandate = django_filters.CharFilter(
        field_name="mandate__reference", lookup_expr="iexact", label=_("Mandate reference")
    )

    class Meta:
        model = DebitAttempt
        fields = ["state", "failure_code", "run"]
