"""Streaming CSV downloads for staff pages, safe to open in a spreadsheet.

Shared by every export (the audit trail, debit attempts). Each cell is
neutralised so an attacker-chosen value (a name, a reason, a gateway code)
cannot run as a formula in the reader's spreadsheet (OWASP "CSV injection").
"""

import csv
from collections.abc import Iterable, Sequence

from django.http import StreamingHttpResponse
from django.utils import timezone

# Cells a spreadsheet would read as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value) -> str:
    """``value`` as text, prefixed with a quote if a spreadsheet would evaluate it."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def local_timestamp(moment) -> str:
    """An aware timestamp as ISO 8601 in the bank's time zone (Asia/Shanghai, +08:00),
    the time staff saw on the page; "" for none."""
    return timezone.localtime(moment).isoformat() if moment is not None else ""


class _Echo:
    """A file-like object that hands each written line back, for streaming."""

    def write(self, value):
        return value


def streaming_csv_response(
    *, header: Sequence[str], rows: Iterable[Iterable], filename: str
) -> StreamingHttpResponse:
    """A download of ``header`` then ``rows`` (each cell through csv_safe), made as it is read."""
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow([csv_safe(value) for value in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
