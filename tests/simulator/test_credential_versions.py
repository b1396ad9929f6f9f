"""The network learns a card's credential version from the bank, as a real one would.

It hears of a password change through the credential-change notice the bank
sends when the change is consumed, whether automatic re-sync is on or off, and
from then on refuses every agreement of the card bound before the change. It
never reads the bank's tables, so the bank's own rows cannot talk it round.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Card, CardCredential, Channel, OutboxEvent
from accounts.services import change_card_password
from debits.gateways import GatewayUnavailable, get_gateway
from debits.models import DebitAttempt, DebitRun, Mandate
from debits.services import run_debit_job
from debits.services.credential_changes import apply_credential_change
from simulator.gateway import SimulatorGateway
from simulator.ledger import known_credential_version
from simulator.models import SimulatedCollection
from tests.debit_helpers import due_instalment

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "946381"


@pytest.fixture
def eager_tasks():
    """Run Celery tasks in-process, so a committed change is consumed at once."""
    from backoffice.celery import app

    previous = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = previous


@pytest.fixture
def eager_retrying_tasks():
    """In-process tasks whose retries run in-process too (a retry is not an error)."""
    from backoffice.celery import app

    previous = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, False
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = previous


def change_password(card: Card, capture, *, consume: bool = True) -> None:
    """Change the card's password; ``consume``: run what its commit dispatches."""
    with capture(execute=consume):
        change_card_password(
            card=card,
            new_password=NEW_PASSWORD,
            kind=CardCredential.Kind.TRANSACTION,
            actor=None,
            channel=Channel.MOBILE_APP,
        )


def collect(mandate: Mandate, key: str):
    return SimulatorGateway().collect(
        idempotency_key=key,
        mandate_reference=mandate.reference,
        agreement_token=mandate.gateway_agreement_token,
        amount_minor=1028000,
    )


def test_the_network_hears_of_a_password_change_even_with_automatic_resync_off(
    eager_tasks, django_capture_on_commit_callbacks, settings
):
    settings.AUTO_RESYNC_ENABLED = False
    _, mandate = due_instalment()

    change_password(mandate.card, django_capture_on_commit_callbacks)

    assert known_credential_version(mandate.card.network_reference) == 2
    mandate.refresh_from_db()
    assert mandate.synced_credential_version == 1
    assert collect(mandate, "k-stale").outcome == "agreement_stale"


def test_an_agreement_bound_before_a_password_change_is_refused_whatever_the_banks_rows_say(
    eager_tasks, django_capture_on_commit_callbacks, settings
):
    settings.AUTO_RESYNC_ENABLED = False
    instalment, mandate = due_instalment()
    change_password(mandate.card, django_capture_on_commit_callbacks)

    # Someone winds the bank's own rows back to the old credential.
    Card.objects.filter(pk=mandate.card_id).update(credential_version=1)
    Mandate.objects.filter(pk=mandate.pk).update(synced_credential_version=1)
    mandate.refresh_from_db()
    assert mandate.is_in_sync, "the bank's rows now claim nothing changed"

    assert collect(mandate, "k-direct").outcome == "agreement_stale"
    with django_capture_on_commit_callbacks(execute=True):
        run_debit_job(on_date=timezone.localdate(), kind=DebitRun.Kind.SCHEDULED)
    attempts = DebitAttempt.objects.filter(instalment=instalment)
    assert attempts.exists()
    assert set(attempts.values_list("failure_code", flat=True)) == {"agreement_stale"}
    assert not SimulatedCollection.objects.filter(
        mandate_reference=mandate.reference, outcome="succeeded"
    ).exists()


def test_with_automatic_resync_on_the_card_is_notified_and_its_mandates_rebound(
    eager_tasks, django_capture_on_commit_callbacks
):
    _, mandate = due_instalment()

    change_password(mandate.card, django_capture_on_commit_callbacks)

    mandate.refresh_from_db()
    assert known_credential_version(mandate.card.network_reference) == 2
    assert mandate.synced_credential_version == 2
    assert collect(mandate, "k-fresh").succeeded
    assert OutboxEvent.objects.get().processed_at is not None


class _RefusesFirstNotice:
    """The configured gateway, except that the first credential-change notice fails."""

    def __init__(self):
        self.refused = 0

    def notify_credential_change(self, **kwargs):
        if not self.refused:
            self.refused += 1
            raise GatewayUnavailable("card service down")
        get_gateway().notify_credential_change(**kwargs)


def test_a_failed_notice_with_resync_off_is_retried_until_the_network_hears_of_it(
    eager_retrying_tasks, django_capture_on_commit_callbacks, settings, monkeypatch
):
    settings.AUTO_RESYNC_ENABLED = False
    flaky = _RefusesFirstNotice()
    monkeypatch.setattr("debits.services.credential_changes.get_gateway", lambda: flaky)
    _, mandate = due_instalment()

    change_password(mandate.card, django_capture_on_commit_callbacks)

    assert flaky.refused == 1
    assert known_credential_version(mandate.card.network_reference) == 2


def test_a_failed_notice_is_recorded_on_the_event_and_a_repeat_is_harmless(
    django_capture_on_commit_callbacks, settings, monkeypatch
):
    settings.AUTO_RESYNC_ENABLED = False
    flaky = _RefusesFirstNotice()
    monkeypatch.setattr("debits.services.credential_changes.get_gateway", lambda: flaky)
    _, mandate = due_instalment()
    change_password(mandate.card, django_capture_on_commit_callbacks, consume=False)
    event = OutboxEvent.objects.get()

    failed = apply_credential_change(outbox_event_id=event.pk)
    event.refresh_from_db()
    assert not failed.network_notified
    assert "gateway_unavailable" in event.last_error

    for _ in range(2):
        assert apply_credential_change(outbox_event_id=event.pk).network_notified
    assert known_credential_version(mandate.card.network_reference) == 2


def test_a_collect_reads_no_table_of_the_bank():
    _, mandate = due_instalment()
    with CaptureQueriesContext(connection) as queries:
        assert collect(mandate, "k1").succeeded
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    for bank_table in (Card._meta.db_table, Mandate._meta.db_table):
        assert bank_table not in sql


@pytest.mark.postgres
def test_a_collect_costs_one_read_and_one_write_on_postgresql():
    _, mandate = due_instalment()
    with CaptureQueriesContext(connection) as queries:
        assert collect(mandate, "k1").succeeded
    assert len(queries.captured_queries) == 2
