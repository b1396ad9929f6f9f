"""Monthly complaint reports, so the bank fixes causes rather than cases.

Complaints by category, channel, root cause and team; the share decided
within 15, 30 and 60 days with the average and 90th-percentile time to a
decision; compensation paid; repair promises kept and broken. Months are
Shanghai calendar months (the regulator's days). Three queries whatever the
period: complaints, compensations and promises, each read once and grouped here.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.translation import gettext, gettext_lazy

from backoffice.complaints.deadlines import SHANGHAI, days_to_decision
from backoffice.complaints.models import (
    Compensation,
    Complaint,
    RepairPromise,
    RootCause,
    Team,
)

Month = tuple[int, int]
CHART_WIDTH = 320  # pixels of the longest bar in a table's chart


@dataclass
class ReportTable:
    key: str
    title: str
    months: list[Month]
    rows: list[tuple[str, list]] = field(default_factory=list)
    # What the chart shows for each row: its total over the period (or a share).
    chart_label: str = gettext_lazy("Total over the period")
    show_total = True

    def totals(self) -> list[tuple[str, list, object]]:
        return [(label, cells, self.summary(cells)) for label, cells in self.rows]

    @property
    def month_labels(self) -> list[str]:
        return [f"{year}-{month:02d}" for year, month in self.months]

    def chart(self) -> list[tuple[str, object, int]]:
        """(label, value, bar width in pixels) per row."""
        values = [(label, self.summary(cells)) for label, cells in self.rows]
        top = max((float(v or 0) for _, v in values), default=0) or 1
        return [(label, v, round(float(v or 0) / top * CHART_WIDTH)) for label, v in values]

    def summary(self, cells: list):
        numbers = [c for c in cells if c is not None]
        return sum(numbers) if numbers else 0


@dataclass
class ShareTable(ReportTable):
    """Cells that are shares or averages: the chart shows the whole period's value."""

    period_values: dict[str, object] = field(default_factory=dict)

    show_total = False

    def chart(self):
        top = max((float(v or 0) for v in self.period_values.values()), default=0) or 1
        return [
            (label, v, round(float(v or 0) / top * CHART_WIDTH))
            for label, v in self.period_values.items()
        ]


def months_between(start: dt.date, end: dt.date) -> list[Month]:
    months = []
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        months.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _month(day: dt.date) -> Month:
    return day.year, day.month


def _local_day(moment: dt.datetime) -> dt.date:
    return moment.astimezone(SHANGHAI).date()


def p90(values: list[int]) -> int | None:
    """The nearest-rank 90th percentile."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[math.ceil(0.9 * len(ordered)) - 1]


def _count_table(key, title, months, rows_of, choices) -> ReportTable:
    table = ReportTable(key, title, months)
    for value, label in choices:
        cells = [rows_of.get((value, m), 0) for m in months]
        if any(cells):
            table.rows.append((label, cells))
    return table


def monthly_report(*, start: dt.date, end: dt.date, team: str = "") -> list[ReportTable]:
    """Every table for complaints received from ``start``'s month to ``end``'s month."""
    months = months_between(start, end)
    first = dt.date(*months[0], 1)
    last_year, last_month = months[-1]
    after = (
        dt.date(last_year + 1, 1, 1) if last_month == 12 else dt.date(last_year, last_month + 1, 1)
    )
    complaints = Complaint.objects.filter(received_on__gte=first, received_on__lt=after)
    if team in Team.values:
        complaints = complaints.filter(team=team)
    counts: dict[str, dict] = {k: defaultdict(int) for k in ("category", "channel", "root", "team")}
    decided_days: dict[Month, list[int]] = defaultdict(list)
    received_per_month: dict[Month, int] = defaultdict(int)
    for category, channel, root, team_value, received, decided_at in complaints.values_list(
        "category", "channel", "root_cause", "team", "received_on", "decided_at"
    ):
        month = _month(received)
        received_per_month[month] += 1
        counts["category"][(category, month)] += 1
        counts["channel"][(channel, month)] += 1
        counts["root"][(root or "", month)] += 1
        counts["team"][(team_value, month)] += 1
        if decided_at is not None:
            decided_days[month].append(days_to_decision(received, decided_at))

    tables = [
        _count_table(
            "category",
            gettext("Complaints by category"),
            months,
            counts["category"],
            Complaint.Category.choices,
        ),
        _count_table(
            "channel",
            gettext("Complaints by channel"),
            months,
            counts["channel"],
            Complaint.Channel.choices,
        ),
        _count_table(
            "root_cause",
            gettext("Complaints by root cause"),
            months,
            counts["root"],
            [*RootCause.choices, ("", gettext("Not decided yet"))],
        ),
        _count_table("team", gettext("Complaints by team"), months, counts["team"], Team.choices),
        _decision_times(months, decided_days, received_per_month),
        _compensation_paid(months, first, after, team),
        _repair_promises(months, first, after, team),
    ]
    return tables


def _share(part: int, whole: int) -> Decimal | None:
    return (Decimal(100) * part / whole).quantize(Decimal("0.1")) if whole else None


def _decision_times(months, decided_days, received_per_month) -> ShareTable:
    table = ShareTable(
        "decision_time", gettext("Time to a decision"), months, chart_label=gettext("Whole period")
    )
    every = [d for m in months for d in decided_days[m]]
    received = sum(received_per_month[m] for m in months)
    for limit in (15, 30, 60):
        label = gettext("Decided within %(limit)d days (%% of received)") % {"limit": limit}
        table.rows.append(
            (
                label,
                [
                    _share(sum(1 for d in decided_days[m] if d <= limit), received_per_month[m])
                    for m in months
                ],
            )
        )
        table.period_values[label] = _share(sum(1 for d in every if d <= limit), received)

    def average(values):
        return (Decimal(sum(values)) / len(values)).quantize(Decimal("0.1")) if values else None

    label = gettext("Average days to decision")
    table.rows.append((label, [average(decided_days[m]) for m in months]))
    table.period_values[label] = average(every)
    label = gettext("90th percentile days to decision")
    table.rows.append((label, [p90(decided_days[m]) for m in months]))
    table.period_values[label] = p90(every)
    return table


def _compensation_paid(months, first, after, team) -> ReportTable:
    table = ReportTable("compensation", gettext("Compensation paid (¥)"), months)
    paid = Compensation.objects.filter(
        state=Compensation.State.APPROVED,
        decided_at__date__gte=first,
        decided_at__date__lt=after,
    )
    if team in Team.values:
        paid = paid.filter(complaint__team=team)
    sums: dict = defaultdict(Decimal)
    for kind, amount, decided_at in paid.values_list("kind", "amount", "decided_at"):
        sums[(kind, _month(_local_day(decided_at)))] += amount
    for kind, label in Compensation.Kind.choices:
        cells = [sums.get((kind, m), Decimal("0.00")) for m in months]
        if any(cells):
            table.rows.append((label, cells))
    return table


def _repair_promises(months, first, after, team) -> ReportTable:
    table = ReportTable("repair_promise", gettext("Repair promises"), months)
    promises = RepairPromise.objects.filter(failed_at__date__gte=first, failed_at__date__lt=after)
    if team in Team.values:
        promises = promises.filter(complaint__team=team)
    counts: dict = defaultdict(int)
    for state, failed_at in promises.values_list("state", "failed_at"):
        counts[(state, _month(_local_day(failed_at)))] += 1
    for state, label in RepairPromise.State.choices:
        cells = [counts.get((state, m), 0) for m in months]
        if any(cells):
            table.rows.append((label, cells))
    return table


def report_csv_rows(table: ReportTable):
    """(header, rows) of one table for the CSV export."""
    header = [table.title, *table.month_labels, *([gettext("Total")] if table.show_total else [])]
    rows = []
    for label, cells in table.rows:
        row = [label, *("" if c is None else c for c in cells)]
        if table.show_total:
            row.append(table.summary(cells))
        rows.append(row)
    return header, rows
