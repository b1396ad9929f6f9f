"""The operations dashboard: figures at a glance, alerts to handle, emergency controls."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.audit_actions import AuditAction
from accounts.models import AuditEvent, Card, PasswordChange
from debits import operations_selectors
from debits.models import (
    Alert,
    CollectionPause,
    DebitAttempt,
    DebitRun,
    Mandate,
    MandateSync,
    OperationsSnapshot,
)
from debits.operations_selectors import (
    CappedCount,
    LagHistogram,
    capped_count,
    resync_lag_histogram,
)
from debits.services import raise_alert, take_operations_snapshot
from tests.factories import InstalmentFactory, MandateFactory

pytestmark = pytest.mark.django_db


def book_with_history(size: int) -> None:
    """``size`` mandates with an attempt, a re-sync and an alert each, spread over days."""
    now = timezone.now()
    run = DebitRun.objects.create(run_date=timezone.localdate(), state=DebitRun.State.RUNNING)
    for i in range(size):
        instalment = InstalmentFactory()
        mandate = MandateFactory(loan=instalment.loan)
        DebitAttempt.objects.create(
            instalment=instalment,
            mandate=mandate,
            run=run,
            attempt_number=1,
            idempotency_key=f"k-{instalment.pk}",
            amount=Decimal("100.00"),
            presented_credential_version=1,
            state=DebitAttempt.State.FAILED if i % 3 == 0 else DebitAttempt.State.SUCCEEDED,
            failure_code="insufficient_funds" if i % 3 == 0 else "",
            created_at=now - dt.timedelta(days=i % 5),
        )
        changed = now - dt.timedelta(hours=i % 7, seconds=3)
        Card.objects.filter(pk=mandate.card_id).update(credential_version=2)
        PasswordChange.objects.create(
            card_id=mandate.card_id, kind="transaction", channel="mobile_app",
            credential_version=2, changed_at=changed,
        )  # fmt: skip
        MandateSync.objects.create(
            mandate=mandate, target_credential_version=2, trigger="credential_change",
            outcome="succeeded", requested_at=changed,
            finished_at=changed + dt.timedelta(seconds=1 + i % 4),
        )  # fmt: skip
        raise_alert(kind=Alert.Kind.RESYNC_FAILED, dedup_key=f"a-{i}", message="x", mandate=mandate)
    take_operations_snapshot()


def dashboard(client):
    return client.get(reverse("operations:dashboard"))


@pytest.mark.parametrize("size", [3, 12])
def test_the_dashboard_costs_the_same_queries_however_large_the_book(
    size, staff_client, django_assert_num_queries
):
    client = staff_client(role="operations")
    book_with_history(size)
    # Session, user and second factor; one query per figure; today's live run; the alerts.
    with django_assert_num_queries(QUERIES_ON_THE_DASHBOARD):
        response = dashboard(client)
    assert response.status_code == 200


QUERIES_ON_THE_DASHBOARD = 19


def test_each_chart_is_an_svg_with_a_table_of_the_same_figures(staff_client):
    client = staff_client(role="supervisor")
    book_with_history(6)
    page = dashboard(client).content.decode()
    assert page.count('<svg class="chart"') == 5
    assert page.count("As a table") == 5
    assert "insufficient_funds" in page
    assert "Re-sync lag per hour" in page


def test_the_charts_show_what_the_figures_say(staff_client):
    client = staff_client(role="operations")
    book_with_history(6)
    response = dashboard(client)
    per_day = response.context["per_day"]
    assert sum(row["collected"] for row in per_day) == 4
    assert sum(row["failed"] for row in per_day) == 2
    assert dict(response.context["failures_by_code"]) == {"insufficient_funds": 2}
    assert response.context["alerts_by_severity"]["warning"] == 6


def test_re_sync_lag_is_measured_from_the_credential_change(db):
    book_with_history(4)
    histogram = resync_lag_histogram(since=timezone.now() - dt.timedelta(days=1))
    assert histogram.count == 4
    # 1, 2, 3 and 4 seconds after the change.
    assert 4 <= histogram.sum_seconds <= 4 * 4 + 1
    assert 1 <= histogram.quantile(0.5) <= 5


def test_a_lag_quantile_is_interpolated_inside_its_bucket():
    histogram = LagHistogram(buckets=((1, 0), (2, 10), (5, 10)), count=10, sum_seconds=15)
    assert histogram.quantile(0.5) == pytest.approx(1.5)
    assert LagHistogram(buckets=((1, 0),), count=0, sum_seconds=0).quantile(0.5) is None


def test_the_hourly_snapshot_is_taken_once_per_hour():
    MandateFactory()
    take_operations_snapshot()
    take_operations_snapshot()
    assert OperationsSnapshot.objects.count() == 1


def test_an_operator_acknowledges_and_resolves_an_alert_from_the_dashboard(staff_client):
    client = staff_client(role="operations")
    alert = raise_alert(kind=Alert.Kind.OUTBOX_STUCK, dedup_key="outbox:9", message="Stuck")
    client.post(reverse("operations:alert_acknowledge", args=[alert.pk]))
    client.post(reverse("operations:alert_resolve", args=[alert.pk]), {"note": "Re-dispatched"})
    alert.refresh_from_db()
    assert alert.acknowledged_by == client.user and alert.resolved_by == client.user
    assert alert.resolution_note == "Re-dispatched"
    actions = set(AuditEvent.objects.filter(actor=client.user).values_list("action", flat=True))
    assert {AuditAction.ALERT_ACKNOWLEDGED, AuditAction.ALERT_RESOLVED} <= actions


def test_pausing_all_debits_needs_a_confirmation_and_a_reason(staff_client):
    client = staff_client(role="operations")
    url = reverse("operations:emergency_action", args=["pause_all"])
    assert client.get(url).status_code == 200
    client.post(url, {"reason": "Wrong amounts in today's file"})
    assert not CollectionPause.objects.exists(), "no confirmation ticked: nothing happens"
    response = client.post(url, {"reason": "Wrong amounts in today's file", "confirm": "on"})
    assert response.status_code == 302
    pause = CollectionPause.objects.get(scope="book", resumed_at__isnull=True)
    assert pause.paused_by == client.user
    event = AuditEvent.objects.get(action=AuditAction.COLLECTION_PAUSED)
    assert event.actor == client.user and "Wrong amounts" in event.reason


def test_resuming_all_debits_ends_the_book_pause(staff_client):
    client = staff_client(role="operations")
    pause_url = reverse("operations:emergency_action", args=["pause_all"])
    client.post(pause_url, {"reason": "Network incident", "confirm": "on"})
    resume_url = reverse("operations:emergency_action", args=["resume_all"])
    client.post(resume_url, {"reason": "Network back", "confirm": "on"})
    assert CollectionPause.objects.get().resumed_by == client.user


def test_re_syncing_every_stale_mandate_from_the_dashboard(
    staff_client, django_capture_on_commit_callbacks
):
    from tests.debit_helpers import bind_at_network

    client = staff_client(role="operations")
    mandate = bind_at_network(MandateFactory())
    Card.objects.filter(pk=mandate.card_id).update(credential_version=2)
    url = reverse("operations:emergency_action", args=["resync_stale"])
    from backoffice.celery import app

    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            client.post(url, {"reason": "Gateway back", "confirm": "on"})
    finally:
        app.conf.task_always_eager = False
    mandate.refresh_from_db()
    assert mandate.synced_credential_version == 2
    sync = MandateSync.objects.get(mandate=mandate)
    assert sync.trigger == MandateSync.Trigger.RECONCILIATION
    assert sync.requested_by == client.user
    assert AuditEvent.objects.filter(
        action=AuditAction.OPERATIONS_RESYNC_ALL_REQUESTED, actor=client.user
    ).exists()


def test_a_supervisor_sees_the_dashboard_but_not_the_emergency_controls(staff_client):
    client = staff_client(role="supervisor")
    page = dashboard(client).content.decode()
    assert "Emergency controls" not in page
    url = reverse("operations:emergency_action", args=["pause_all"])
    assert client.post(url, {"reason": "x", "confirm": "on"}).status_code == 403


def test_the_live_out_of_sync_figure_counts_mandates_a_recent_change_left_behind(staff_client):
    client = staff_client(role="operations")
    now = timezone.now()
    recent, old, synced = MandateFactory(), MandateFactory(), MandateFactory()
    Card.objects.filter(pk=recent.card_id).update(credential_version=2, credential_changed_at=now)
    Card.objects.filter(pk=old.card_id).update(
        credential_version=2, credential_changed_at=now - dt.timedelta(days=3)
    )
    Card.objects.filter(pk=synced.card_id).update(credential_changed_at=now)
    take_operations_snapshot()
    response = dashboard(client)
    assert response.context["out_of_sync_recent"] == CappedCount(value=1, more=False)
    # The whole book's figure, old drift included, is the hourly snapshot's.
    assert response.context["out_of_sync_snapshot"].out_of_sync_mandates == 2
    page = response.content.decode()
    assert "whole book: 2 at the hourly snapshot" in page


def test_before_the_first_snapshot_the_dashboard_says_so(staff_client):
    client = staff_client(role="operations")
    page = dashboard(client).content.decode()
    assert "whole book: no snapshot yet" in page


def test_a_capped_count_says_more_than_past_its_cap(db):
    for _ in range(4):
        MandateFactory()
    mandates = Mandate.objects.all()
    assert capped_count(mandates, cap=3) == CappedCount(value=3, more=True)
    assert capped_count(mandates, cap=4) == CappedCount(value=4, more=False)
    assert capped_count(mandates.none(), cap=4) == CappedCount(value=0, more=False)


def test_past_the_cap_the_dashboard_shows_more_than(staff_client, monkeypatch):
    client = staff_client(role="operations")
    for _ in range(3):
        mandate = MandateFactory()
        Card.objects.filter(pk=mandate.card_id).update(
            credential_version=2, credential_changed_at=timezone.now()
        )
    monkeypatch.setattr(operations_selectors, "LIVE_COUNT_CAP", 2)
    page = dashboard(client).content.decode()
    assert "more than 2" in page
