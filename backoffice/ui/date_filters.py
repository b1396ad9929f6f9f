"""The "From" / "To" day filters of staff list pages and their exports (django-filter).

Both ends are inclusive and compare the local calendar day of a timestamp, with
the browser's date picker as the widget.
"""

import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _


def _day_filter(field_name: str, lookup_expr: str, label) -> django_filters.DateFilter:
    return django_filters.DateFilter(
        field_name=field_name,
        lookup_expr=lookup_expr,
        label=label,
        widget=forms.DateInput(attrs={"type": "date"}),
    )


def day_from_filter(field_name: str) -> django_filters.DateFilter:
    """Rows whose ``field_name`` falls on or after the given day."""
    return _day_filter(field_name, "date__gte", _("From"))


def day_to_filter(field_name: str) -> django_filters.DateFilter:
    """Rows whose ``field_name`` falls on or before the given day."""
    return _day_filter(field_name, "date__lte", _("To"))
