"""The dashboard: what needs attention, shown only to roles that may act on it."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Card
from debits.models import Alert
from debits.services.operations import take_operations_snapshot
from tests.factories import MandateFactory

pytestmark = pytest.mark.django_db


def _drift(mandate, *, changed_at=None):
    Card.objects.filter(pk=mandate.card_id).update(
        credential_version=2, credential_changed_at=changed_at or timezone.now()
    )


def test_it_lists_a_mandate_still_bound_to_an_old_credential(staff_client):
    client = staff_client(role="operations")
    behind = MandateFactory(reference="MD-BEHIND")
    MandateFactory(reference="MD-IN-SYNC")
    _drift(behind)

    page = client.get("/").content.decode()

    assert "MD-BEHIND" in page
    assert "MD-IN-SYNC" not in page


def test_it_shows_open_alerts_to_operations_but_not_to_agents(staff_client):
    mandate = MandateFactory()
    Alert.objects.create(
        kind=Alert.Kind.RESYNC_FAILED,
        dedup_key=f"resync_failed:mandate:{mandate.pk}",
        card=mandate.card,
        mandate=mandate,
        message="Re-sync of <b>MD</b> failed after retries",
    )

    operations_page = staff_client(role="operations").get("/").content.decode()
    assert "Re-sync of &lt;b&gt;MD&lt;/b&gt; failed after retries" in operations_page

    agent_page = staff_client(role="agent").get("/").content.decode()
    assert "failed after retries" not in agent_page


def test_it_does_a_fixed_number_of_queries_however_many_mandates_drift(staff_client):
    client = staff_client(role="supervisor")

    def queries_for_page():
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/").status_code == 200
        return len(queries)

    _drift(MandateFactory())
    few = queries_for_page()
    for _ in range(6):
        _drift(MandateFactory())
    assert queries_for_page() == few


def test_old_drift_is_counted_in_the_whole_books_snapshot_and_left_off_the_live_list(
    staff_client,
):
    client = staff_client(role="operations")
    recent, old = MandateFactory(reference="MD-RECENT"), MandateFactory(reference="MD-OLD")
    _drift(recent)
    _drift(old, changed_at=timezone.now() - dt.timedelta(days=3))
    take_operations_snapshot()

    response = client.get("/")

    page = response.content.decode()
    assert "MD-RECENT" in page and "MD-OLD" not in page
    assert response.context["stats"]["out_of_sync_recent"].value == 1
    assert "whole book: 2 at the hourly snapshot" in page


def test_the_whole_books_counts_come_from_todays_snapshot_once_it_is_taken(staff_client):
    client = staff_client(role="agent")
    MandateFactory.create_batch(2)
    before = client.get("/")
    stats = before.context["stats"]
    assert (stats["active_mandates"].value, stats["active_mandates"].more) == (2, False)
    assert stats["book_counts_at"] is None
    assert "counted now: no snapshot yet today" in before.content.decode()

    take_operations_snapshot()
    MandateFactory()  # after the snapshot: counted at the next one

    after = client.get("/")
    stats = after.context["stats"]
    assert stats["active_mandates"].value == 2
    assert stats["book_counts_at"] is not None
    assert "at the hourly snapshot of" in after.content.decode()


def test_a_snapshot_from_an_earlier_day_is_not_shown_as_todays_counts(staff_client):
    client = staff_client(role="agent")
    MandateFactory()
    take_operations_snapshot(now=timezone.now() - dt.timedelta(days=1))
    MandateFactory()

    stats = client.get("/").context["stats"]

    assert stats["book_counts_at"] is None
    assert stats["active_mandates"].value == 2


def test_past_the_cap_the_live_count_says_more_than(staff_client, settings, monkeypatch):
    monkeypatch.setattr("debits.operations_selectors.LIVE_COUNT_CAP", 2)
    MandateFactory.create_batch(3)

    response = staff_client(role="agent").get("/")

    assert response.context["stats"]["active_mandates"].more
    assert "more than 2" in response.content.decode()


def test_the_mandates_waiting_longest_since_their_cards_change_come_first(db):
    from backoffice.dashboard.selectors import mandates_out_of_sync

    now = timezone.now()
    waiting = {}
    for hours in (3, 20, 9):
        mandate = MandateFactory()
        _drift(mandate, changed_at=now - dt.timedelta(hours=hours))
        waiting[hours] = mandate
    _drift(MandateFactory(), changed_at=now - dt.timedelta(hours=30))  # before the window
    in_sync = MandateFactory()
    Card.objects.filter(pk=in_sync.card_id).update(credential_changed_at=now)

    shown = mandates_out_of_sync(limit=2)

    assert [m.pk for m in shown] == [waiting[20].pk, waiting[9].pk]
    assert shown[0].card.credential_version == 2
