"""Monthly reports: groups, decision times, compensation, promises; CSV safe for Excel."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from backoffice.complaints.deadlines import SHANGHAI
from backoffice.complaints.models import Compensation, RepairPromise
from backoffice.complaints.reports import monthly_report, p90
from tests.conftest import sign_in_verified
from tests.factories import ComplaintFactory, DebitAttemptFactory, StaffUserFactory

pytestmark = pytest.mark.django_db


def received(day: dt.date, **fields):
    at = timezone.make_aware(dt.datetime.combine(day, dt.time(10)), SHANGHAI)
    return ComplaintFactory(received_at=at, **fields)


def decide(complaint, *, after_days: int, root_cause="bank_sync_failure"):
    complaint.state = "decided"
    complaint.root_cause = root_cause
    complaint.outcome = "upheld"
    complaint.decided_at = complaint.received_at + dt.timedelta(days=after_days)
    complaint.save()


def tables_for(start, end, **kwargs):
    return {t.key: t for t in monthly_report(start=start, end=end, **kwargs)}


def test_p90_is_the_nearest_rank():
    assert p90([]) is None
    assert p90(list(range(1, 11))) == 9
    assert p90([5]) == 5


def test_complaints_are_grouped_per_month_and_decision_times_measured():
    march, april = dt.date(2026, 3, 2), dt.date(2026, 4, 10)
    for days in (3, 14, 20):
        decide(received(march, category="fee_dispute", channel="phone"), after_days=days)
    decide(received(march, channel="letter"), after_days=45, root_cause="customer_funds")
    received(april, team="card_operations")

    tables = tables_for(dt.date(2026, 3, 1), dt.date(2026, 4, 30))

    assert tables["category"].month_labels == ["2026-03", "2026-04"]
    assert dict(tables["category"].rows)["Fee dispute"] == [3, 0]
    assert dict(tables["channel"].rows)["Letter"] == [1, 0]
    assert dict(tables["root_cause"].rows)["Bank-side sync failure"] == [3, 0]
    assert dict(tables["root_cause"].rows)["Not decided yet"] == [0, 1]
    assert dict(tables["team"].rows)["Card operations"] == [0, 1]
    times = dict(tables["decision_time"].rows)
    assert times["Decided within 15 days (% of received)"] == [Decimal("50.0"), Decimal("0.0")]
    assert times["Decided within 30 days (% of received)"] == [Decimal("75.0"), Decimal("0.0")]
    assert times["Decided within 60 days (% of received)"] == [Decimal("100.0"), Decimal("0.0")]
    assert times["Average days to decision"][0] == Decimal("20.5")
    assert times["90th percentile days to decision"] == [45, None]


def test_the_team_filter_keeps_one_teams_complaints():
    received(dt.date(2026, 3, 2), team="card_operations")
    received(dt.date(2026, 3, 3), team="complaints_desk")

    tables = tables_for(dt.date(2026, 3, 1), dt.date(2026, 3, 31), team="card_operations")

    assert dict(tables["team"].rows) == {"Card operations": [1]}


def test_compensation_paid_and_promises_kept_and_broken_per_month():
    complaint = received(dt.date(2026, 3, 2))
    paid_at = timezone.make_aware(dt.datetime(2026, 3, 20, 12), SHANGHAI)
    for amount, state in (("50.00", "approved"), ("30.00", "approved"), ("900.00", "rejected")):
        Compensation.objects.create(
            complaint=complaint,
            kind="goodwill",
            amount=Decimal(amount),
            reason="x",
            state=state,
            decided_at=paid_at,
        )
    failed = timezone.make_aware(dt.datetime(2026, 3, 1, 8), SHANGHAI)
    for state in ("kept", "broken"):
        RepairPromise.objects.create(
            complaint=received(dt.date(2026, 3, 2)),
            root_cause="bank_sync_failure",
            failed_attempt=DebitAttemptFactory(),
            failed_at=failed,
            repair_due_at=failed + dt.timedelta(hours=24),
            state=state,
        )

    tables = tables_for(dt.date(2026, 3, 1), dt.date(2026, 3, 31))

    assert dict(tables["compensation"].rows) == {"Goodwill credit": [Decimal("80.00")]}
    assert dict(tables["repair_promise"].rows) == {"Kept": [1], "Broken": [1]}


def test_the_csv_is_utf8_with_a_bom_and_formula_safe(client):
    received(dt.date(2026, 3, 2), category="other")
    sign_in_verified(client, StaffUserFactory(role="auditor"))

    response = client.get("/complaints/reports/export.csv?table=category&from=2026-03&to=2026-03")

    content = b"".join(response.streaming_content)
    assert content.startswith(b"\xef\xbb\xbf")
    text = content.decode("utf-8-sig")
    assert text.splitlines()[0] == "Complaints by category,2026-03,Total"
    assert "Other,1,1" in text


def test_a_cell_that_looks_like_a_formula_is_neutralised():
    from backoffice.complaints.reports import ReportTable, report_csv_rows

    table = ReportTable("x", "Title", [(2026, 3)], rows=[("=HYPERLINK(1)", [1])])
    header, rows = report_csv_rows(table)
    from backoffice.ui.csv_export import csv_safe

    assert csv_safe(rows[0][0]) == "'=HYPERLINK(1)"


def test_the_report_page_draws_a_chart_per_table(client):
    received(dt.date(2026, 3, 2))
    sign_in_verified(client, StaffUserFactory(role="supervisor"))

    page = client.get("/complaints/reports/?from=2026-03&to=2026-04").content.decode()

    assert page.count("<svg") == 7 - page.count("Nothing in this period.")
    assert "Complaints by category" in page and "<rect" in page
