"""Filtered, paginated staff lists and the exports of the same filters.

An invalid filter value (a date like 2026-02-30, an unknown choice) is an
error shown on the form, and the list or export shows nothing until it is
fixed: a filter that is silently dropped would widen the result to every row.
"""

from django.core.paginator import Paginator


def filters_are_invalid(filterset) -> bool:
    return filterset.is_bound and not filterset.is_valid()


def filtered_rows(filterset):
    """The rows the filters select; none at all while a filter value is invalid."""
    if filters_are_invalid(filterset):
        return filterset.queryset.none()
    return filterset.qs


def filtered_page(request, filterset, per_page: int) -> dict:
    """Template context of a filtered list: the filter, the requested page and the
    query string without ``page`` (what the pager links keep)."""
    page = Paginator(filtered_rows(filterset), per_page).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return {
        "filter": filterset,
        "filter_invalid": filters_are_invalid(filterset),
        "page": page,
        "query": query.urlencode(),
    }


def applied_filters(filterset) -> dict:
    """The filters an export applied, as recorded in its audit event: the cleaned
    values that filtered (an object as its id), never a value that was ignored."""
    if not filterset.is_bound or filters_are_invalid(filterset):
        return {}
    applied = {}
    for name, value in filterset.form.cleaned_data.items():
        if value in (None, "", [], ()):
            continue
        applied[name] = str(value.pk) if hasattr(value, "pk") else str(value)
    return applied
