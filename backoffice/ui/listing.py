"""Filtered, paginated staff lists and the exports of the same filters."""

from django.core.paginator import Paginator

from backoffice.ui.identifiers import page_number


def filtered_page(request, filterset, per_page: int) -> dict:
    """Template context of a filtered list: the filter, the requested page and the
    query string without ``page`` (what the pager links keep)."""
    page = Paginator(filterset.qs, per_page).get_page(page_number(request.GET.get("page")))
    query = request.GET.copy()
    query.pop("page", None)
    return {"filter": filterset, "page": page, "query": query.urlencode()}


# An audit summary keeps what was asked for, not a pasted novel.
FILTER_VALUE_LIMIT = 200


def _recordable(text: str) -> str:
    # PostgreSQL's jsonb cannot hold a NUL character: such a value made the audit
    # write, and so the export, fail.
    return text.replace("\x00", "")[:FILTER_VALUE_LIMIT]


def chosen_filters(request) -> dict:
    """The filters a list or export was asked for, as recorded in its audit event."""
    return {_recordable(k): _recordable(v) for k, v in request.GET.items() if k != "page"}
