import threading

import pytest
from django.db import connection
from django.db.models import F

from accounts.models import AuditEvent, Card
from debits.models import Alert, Mandate, MandateSync
from debits.services import MandateNotResyncable, mark_mandate_sync_failed, resync_mandate
from simulator.faults import script_fault
from simulator.gateway import SimulatorGateway
from simulator.ledger import bound_version
from simulator.models import SimulatedFault
from tests.factories import CardFactory, MandateFactory

pytestmark = pytest.mark.django_db


def bump_credential_version(card: Card) -> None:
    Card.objects.filter(pk=card.pk).update(credential_version=F("credential_version") + 1)
    card.refresh_from_db()


def test_a_resync_binds_the_cards_current_credential_version():
    card = CardFactory()
    mandate = MandateFactory(loan__card=card)
    bump_credential_version(card)

    sync = resync_mandate(mandate=mandate, trigger=MandateSync.Trigger.CREDENTIAL_CHANGE)

    mandate.refresh_from_db()
    assert sync.outcome == MandateSync.Outcome.SUCCEEDED
    assert sync.target_credential_version == 2
    assert sync.finished_at is not None and sync.latency_ms is not None
    assert mandate.synced_credential_version == 2
    assert mandate.is_in_sync
    assert bound_version(mandate.reference) == 2
    assert (
        mandate.gateway_agreement_token
        == SimulatorGateway()
        .bind_agreement(
            mandate_reference=mandate.reference,
            card_reference=mandate.card.network_reference,
            account_fingerprint="",
            credential_version=2,
        )
        .agreement_token
    )
    assert AuditEvent.objects.filter(action="mandate.resynced", object_id=str(mandate.pk)).exists()


def test_a_mandate_already_in_sync_is_left_alone():
    mandate = MandateFactory()
    token = mandate.gateway_agreement_token

    sync = resync_mandate(mandate=mandate)

    mandate.refresh_from_db()
    assert sync.outcome == MandateSync.Outcome.ALREADY_IN_SYNC
    assert mandate.gateway_agreement_token == token
    assert bound_version(mandate.reference) is None


def test_a_gateway_outage_is_recorded_and_leaves_the_mandate_behind():
    mandate = MandateFactory()
    bump_credential_version(mandate.card)
    script_fault(
        mandate_reference=mandate.reference, outcome=SimulatedFault.Outcome.BIND_UNAVAILABLE
    )

    sync = resync_mandate(mandate=mandate)

    mandate.refresh_from_db()
    assert sync.outcome == MandateSync.Outcome.FAILED
    assert sync.error_code == "gateway_unavailable"
    assert mandate.synced_credential_version == 1


def test_a_cancelled_mandate_is_not_resynced():
    mandate = MandateFactory(state=Mandate.State.CANCELLED)
    bump_credential_version(mandate.card)
    with pytest.raises(MandateNotResyncable):
        resync_mandate(mandate=mandate)


def test_exhausted_retries_flag_the_mandate_and_raise_one_alert_until_it_is_resynced():
    mandate = MandateFactory()
    bump_credential_version(mandate.card)

    mark_mandate_sync_failed(mandate=mandate, reason="gateway_unavailable")
    mark_mandate_sync_failed(mandate=mandate, reason="gateway_unavailable")

    mandate.refresh_from_db()
    assert mandate.sync_failed_at is not None
    alert = Alert.objects.get(kind=Alert.Kind.RESYNC_FAILED, mandate=mandate)
    assert alert.occurrences == 2

    resync_mandate(mandate=mandate)

    mandate.refresh_from_db()
    alert.refresh_from_db()
    assert mandate.sync_failed_at is None and mandate.sync_failure_reason == ""
    assert alert.resolved_at is not None


def test_a_mandate_in_sync_is_never_flagged_as_failed():
    mandate = MandateFactory()
    mark_mandate_sync_failed(mandate=mandate, reason="late message")
    mandate.refresh_from_db()
    assert mandate.sync_failed_at is None
    assert not Alert.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_resyncs_of_one_mandate_end_with_one_binding():
    mandate = MandateFactory()
    bump_credential_version(mandate.card)
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def worker():
        try:
            barrier.wait()
            fresh = Mandate.objects.get(pk=mandate.pk)
            outcomes.append(resync_mandate(mandate=fresh).outcome)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    mandate.refresh_from_db()
    assert outcomes.count(MandateSync.Outcome.SUCCEEDED) == 1
    assert outcomes.count(MandateSync.Outcome.ALREADY_IN_SYNC) == 3
    assert mandate.synced_credential_version == 2
    agreement_token = (
        SimulatorGateway()
        .bind_agreement(
            mandate_reference=mandate.reference,
            card_reference=mandate.card.network_reference,
            account_fingerprint="",
            credential_version=2,
        )
        .agreement_token
    )
    assert mandate.gateway_agreement_token == agreement_token


def test_operations_resync_a_mandate_from_the_card_page(staff_client):
    mandate = MandateFactory()
    bump_credential_version(mandate.card)
    client = staff_client(role="operations")

    page = client.get(f"/debits/cards/{mandate.card_id}/")
    assert b"Pending" in page.content and b"Re-sync now" in page.content
    response = client.post(f"/debits/mandates/{mandate.pk}/resync/", follow=True)

    mandate.refresh_from_db()
    assert mandate.synced_credential_version == 2
    assert b"re-synced to credential version 2" in response.content
    assert b"In sync" in response.content
    sync = MandateSync.objects.get()
    assert sync.trigger == "manual" and sync.requested_by == client.user


def test_an_agent_sees_the_sync_state_but_cannot_resync(staff_client):
    mandate = MandateFactory()
    client = staff_client(role="agent")
    page = client.get(f"/debits/cards/{mandate.card_id}/")
    assert b"In sync" in page.content and b"Re-sync now" not in page.content
    assert client.post(f"/debits/mandates/{mandate.pk}/resync/").status_code == 403


def test_a_failed_mandate_shows_its_reason_on_the_card_page(staff_client):
    mandate = MandateFactory()
    bump_credential_version(mandate.card)
    mark_mandate_sync_failed(mandate=mandate, reason="gateway_unavailable", attempts=9)
    page = staff_client(role="agent").get(f"/debits/cards/{mandate.card_id}/")
    assert b"Failed" in page.content
    assert b"Gateway unavailable" in page.content


def test_the_card_page_takes_a_fixed_number_of_queries(staff_client, django_assert_max_num_queries):
    card = CardFactory()
    for _ in range(3):
        mandate = MandateFactory(loan__card=card)
        resync_mandate(mandate=mandate)
    client = staff_client(role="operations")
    with django_assert_max_num_queries(25):
        assert client.get(f"/debits/cards/{card.pk}/").status_code == 200


def test_the_admin_action_resyncs_the_selected_mandates(staff_client):
    first, second = MandateFactory(), MandateFactory()
    for mandate in (first, second):
        bump_credential_version(mandate.card)
    client = staff_client(role="operations")
    response = client.post(
        "/admin/debits/mandate/",
        {"action": "resync_mandates_action", "_selected_action": [first.pk, second.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert Mandate.objects.filter(synced_credential_version=2).count() == 2
    assert MandateSync.objects.filter(requested_by=client.user).count() == 2


def _credential_change_event(card, *, age_seconds: int = 0):
    from django.utils import timezone

    from accounts.models import OutboxEvent

    bump_credential_version(card)
    return OutboxEvent.objects.create(
        event_type=OutboxEvent.Type.CREDENTIAL_CHANGED,
        payload={"card_id": card.pk, "credential_version": card.credential_version},
        created_at=timezone.now() - timezone.timedelta(seconds=age_seconds),
    )


def test_the_sweeper_redispatches_only_events_left_unfinished_past_the_threshold(
    settings, django_capture_on_commit_callbacks
):
    settings.OUTBOX_REDISPATCH_AFTER_SECONDS = 30
    from debits.services import sweep_outbox

    stuck = _credential_change_event(MandateFactory().card, age_seconds=120)
    fresh = _credential_change_event(MandateFactory().card, age_seconds=1)
    done = _credential_change_event(MandateFactory().card, age_seconds=120)
    done.processed_at = done.created_at
    done.save(update_fields=["processed_at"])

    with django_capture_on_commit_callbacks() as dispatched:
        assert sweep_outbox() == [stuck.pk]
    assert len(dispatched) == 1
    stuck.refresh_from_db()
    assert stuck.last_dispatched_at is not None
    with django_capture_on_commit_callbacks():
        assert sweep_outbox() == [], "just dispatched: not again before the threshold"
    assert fresh.pk not in sweep_outbox(older_than_seconds=3600)


def test_a_consumed_event_resyncs_the_card_and_is_processed_once():
    from debits.services import apply_credential_change

    card = CardFactory()
    mandates = [MandateFactory(loan__card=card) for _ in range(2)]
    event = _credential_change_event(card)

    first = apply_credential_change(outbox_event_id=event.pk)
    again = apply_credential_change(outbox_event_id=event.pk)

    assert first.processed and len(first.syncs) == 2
    assert again.processed and again.skipped_reason == "done"
    assert MandateSync.objects.count() == 2
    for mandate in mandates:
        mandate.refresh_from_db()
        assert mandate.synced_credential_version == 2


def test_with_automatic_resync_off_events_wait_for_the_sweeper(settings):
    from debits.services import apply_credential_change, sweep_outbox

    settings.AUTO_RESYNC_ENABLED = False
    mandate = MandateFactory()
    event = _credential_change_event(mandate.card, age_seconds=3600)

    outcome = apply_credential_change(outbox_event_id=event.pk)

    assert outcome.skipped_reason == "auto_resync_disabled"
    assert sweep_outbox(older_than_seconds=0) == []
    mandate.refresh_from_db()
    assert mandate.synced_credential_version == 1
    settings.AUTO_RESYNC_ENABLED = True
    assert apply_credential_change(outbox_event_id=event.pk).processed


def test_a_sync_a_dead_worker_left_pending_is_closed_as_interrupted():
    from django.utils import timezone

    from debits.services import close_interrupted_syncs

    mandate = MandateFactory()
    old = MandateSync.objects.create(
        mandate=mandate,
        target_credential_version=2,
        trigger="credential_change",
        requested_at=timezone.now() - timezone.timedelta(hours=1),
    )
    recent = MandateSync.objects.create(
        mandate=mandate, target_credential_version=2, trigger="credential_change"
    )

    assert close_interrupted_syncs() == 1

    old.refresh_from_db()
    recent.refresh_from_db()
    assert old.outcome == "failed" and old.error_code == "interrupted"
    assert recent.outcome == "pending"


def test_the_sweeper_is_scheduled_in_beat():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="debits.tasks.resync.sweep_outbox_task")
    assert task.enabled and task.queue == "resync"
    assert task.interval.every <= 30


def test_the_resync_task_retries_then_flags_the_mandate_when_retries_run_out(settings):
    from backoffice.celery import app
    from debits.tasks.resync import resync_mandate_task

    settings.RESYNC_MAX_RETRIES = 2
    mandate = MandateFactory()
    bump_credential_version(mandate.card)
    script_fault(
        mandate_reference=mandate.reference,
        outcome=SimulatedFault.Outcome.BIND_UNAVAILABLE,
        times=None,
    )
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        resync_mandate_task.delay(mandate.pk)
    finally:
        app.conf.task_always_eager = previous

    mandate.refresh_from_db()
    assert MandateSync.objects.filter(mandate=mandate, outcome="failed").count() == 3
    assert mandate.sync_failed_at is not None
    assert mandate.sync_failure_reason == "gateway_unavailable"
    alert = Alert.objects.get(kind=Alert.Kind.RESYNC_FAILED, mandate=mandate)
    assert alert.message.endswith("after 3 attempt(s): gateway_unavailable")


class CustomerWithdrawsWhileBinding(SimulatorGateway):
    """The network binds the agreement, but the bank cancels the mandate before it answers."""

    def bind_agreement(self, **kwargs):
        from debits.services import cancel_mandate

        cancel_mandate(
            mandate=Mandate.objects.get(reference=kwargs["mandate_reference"]),
            reason="Customer withdrew the authorisation",
            actor=None,
        )
        return super().bind_agreement(**kwargs)


def test_a_resync_finishing_after_its_mandate_was_cancelled_leaves_the_mandate_as_cancelled(
    settings,
):
    settings.PAYMENT_GATEWAY = "tests.debits.test_resync.CustomerWithdrawsWhileBinding"
    mandate = MandateFactory()
    token = mandate.gateway_agreement_token
    bump_credential_version(mandate.card)

    sync = resync_mandate(mandate=mandate, trigger=MandateSync.Trigger.CREDENTIAL_CHANGE)

    mandate.refresh_from_db()
    assert mandate.state == Mandate.State.CANCELLED
    assert (mandate.gateway_agreement_token, mandate.synced_credential_version) == (token, 1)
    assert (sync.outcome, sync.error_code) == (MandateSync.Outcome.FAILED, "mandate_closed")
    event = AuditEvent.objects.filter(object_id=str(mandate.pk)).order_by("-pk").first()
    assert event.action == "mandate.resync_failed"
    assert event.summary["error_code"] == "mandate_closed"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_cancel_racing_a_resync_in_flight_wins_and_keeps_the_old_token():
    from debits.services import cancel_mandate
    from tests.race import race

    mandate = MandateFactory()
    token = mandate.gateway_agreement_token
    bump_credential_version(mandate.card)

    resynced, cancelled = race(
        lambda: resync_mandate(mandate=Mandate.objects.get(pk=mandate.pk)),
        lambda: cancel_mandate(
            mandate=Mandate.objects.get(pk=mandate.pk), reason="Loan repaid early", actor=None
        ),
        at="simulator.ledger.bind",
    )

    assert cancelled.won and resynced.won, (cancelled.error, resynced.error)
    mandate.refresh_from_db()
    assert mandate.state == Mandate.State.CANCELLED
    assert mandate.gateway_agreement_token == token
    assert resynced.value.error_code == "mandate_closed"
