"""Re-sync through a real Celery worker on Redis, against the real PostgreSQL test database."""

import threading

import pytest
from django.db import connection, transaction

from accounts.models import Card, CardCredential, Channel, OutboxEvent
from accounts.services import change_card_password
from debits.models import Alert, Mandate, MandateSync
from debits.services import sweep_outbox
from simulator.faults import script_fault
from simulator.ledger import bound_version
from simulator.models import SimulatedFault
from tests.conftest import purge_broker, wait_until
from tests.factories import CardCredentialFactory, CardFactory, MandateFactory

pytestmark = [pytest.mark.redis_worker, pytest.mark.django_db(transaction=True)]

PASSWORDS = ["946381", "902716", "384917", "274916", "390581", "582039"]


def card_with_mandates(live: int = 2, cancelled: int = 0) -> Card:
    card = CardFactory()
    CardCredentialFactory(card=card)
    for _ in range(live):
        MandateFactory(loan__card=card)
    for _ in range(cancelled):
        MandateFactory(loan__card=card, state=Mandate.State.CANCELLED)
    return card


def change(card: Card, password: str = PASSWORDS[0]) -> None:
    change_card_password(
        card=card,
        new_password=password,
        kind=CardCredential.Kind.TRANSACTION,
        actor=None,
        channel=Channel.MOBILE_APP,
    )


def all_live_mandates_at(card: Card, version: int) -> bool:
    mandates = Mandate.objects.filter(card=card, state__in=Mandate.LIVE_STATES)
    return all(
        m.synced_credential_version == version and bound_version(m.reference) == version
        for m in mandates
    )


def test_a_committed_change_leaves_every_active_mandate_in_sync(start_worker):
    start_worker(queues="resync")
    card = card_with_mandates(live=3, cancelled=1)

    change(card)

    wait_until(lambda: all_live_mandates_at(card, 2), message="mandates not re-synced")
    wait_until(lambda: OutboxEvent.objects.get().processed_at is not None)
    cancelled = Mandate.objects.get(card=card, state=Mandate.State.CANCELLED)
    assert cancelled.synced_credential_version == 1
    assert set(MandateSync.objects.values_list("trigger", flat=True)) == {"credential_change"}


def test_a_rolled_back_change_causes_no_resync(start_worker):
    start_worker(queues="resync")
    rolled_back = card_with_mandates()
    committed = card_with_mandates()

    with pytest.raises(RuntimeError), transaction.atomic():
        change(rolled_back)
        raise RuntimeError("rolled back after the change")
    # A committed change sent after it: once the worker has done that one, it
    # would have done anything the rolled-back change had sent.
    change(committed)

    wait_until(lambda: all_live_mandates_at(committed, 2))
    rolled_back.refresh_from_db()
    assert rolled_back.credential_version == 1
    assert not MandateSync.objects.filter(mandate__card=rolled_back).exists()
    assert not OutboxEvent.objects.filter(payload__card_id=rolled_back.pk).exists()


def test_a_worker_killed_during_a_resync_ends_in_sync_through_the_sweeper(start_worker):
    # Every gateway call takes 3 s: time enough to kill the worker mid-binding.
    slow = start_worker(queues="resync", GATEWAY_SIMULATOR_LATENCY_MS="3000")
    card = card_with_mandates()

    change(card)
    wait_until(
        lambda: MandateSync.objects.filter(mandate__card=card, outcome="pending").exists(),
        message="the worker never started the re-sync",
    )
    slow.kill()
    assert OutboxEvent.objects.get().processed_at is None
    assert not all_live_mandates_at(card, 2)

    start_worker(queues="resync")
    assert sweep_outbox(older_than_seconds=0) == [OutboxEvent.objects.get().pk]

    wait_until(lambda: all_live_mandates_at(card, 2), message="not repaired by the sweeper")
    wait_until(lambda: OutboxEvent.objects.get().processed_at is not None)
    assert MandateSync.objects.filter(trigger="sweeper", outcome="succeeded").exists()


def test_a_message_lost_by_the_broker_right_after_commit_ends_in_sync_through_the_sweeper(
    start_worker,
):
    card = card_with_mandates()

    change(card)
    purge_broker()  # the broker loses the message before any worker takes it

    start_worker(queues="resync")
    event = OutboxEvent.objects.get()
    assert event.processed_at is None
    assert sweep_outbox(older_than_seconds=0) == [event.pk]
    wait_until(lambda: all_live_mandates_at(card, 2), message="not repaired by the sweeper")


def test_concurrent_password_changes_end_with_mandates_synced_to_the_final_version(
    start_worker,
):
    start_worker(queues="resync", concurrency=3)
    card = card_with_mandates(live=3)
    barrier = threading.Barrier(5)
    errors: list[BaseException] = []

    def change_concurrently(password):
        try:
            barrier.wait()
            change(Card.objects.get(pk=card.pk), password)
        except BaseException as exc:  # reported below, not swallowed
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=change_concurrently, args=(p,)) for p in PASSWORDS[:5]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []

    card.refresh_from_db()
    assert card.credential_version == 6
    assert sorted(OutboxEvent.objects.values_list("payload__credential_version", flat=True)) == [
        2,
        3,
        4,
        5,
        6,
    ]
    wait_until(lambda: all_live_mandates_at(card, 6), message="mandates behind the last change")
    wait_until(lambda: not OutboxEvent.objects.filter(processed_at__isnull=True).exists())


def test_when_retries_run_out_the_mandate_is_flagged_and_operations_alerted(start_worker):
    start_worker(
        queues="resync",
        RESYNC_MAX_RETRIES="2",
        RESYNC_RETRY_BASE_DELAY_SECONDS="0.05",
    )
    card = card_with_mandates(live=2)
    broken, healthy = Mandate.objects.filter(card=card).order_by("pk")
    script_fault(
        mandate_reference=broken.reference,
        outcome=SimulatedFault.Outcome.BIND_UNAVAILABLE,
        times=None,
    )

    change(card)

    wait_until(lambda: Alert.objects.filter(kind=Alert.Kind.RESYNC_FAILED).exists())
    broken.refresh_from_db()
    assert broken.sync_failed_at is not None
    assert broken.synced_credential_version == 1
    assert MandateSync.objects.filter(mandate=broken, outcome="failed").count() == 3
    assert all_live_mandates_at(Card.objects.get(pk=card.pk), 2) is False
    healthy.refresh_from_db()
    assert healthy.synced_credential_version == 2
    alert = Alert.objects.get(kind=Alert.Kind.RESYNC_FAILED)
    assert alert.mandate == broken
    assert OutboxEvent.objects.get().processed_at is not None, "handed to operations"


@pytest.mark.postgres
def test_a_change_made_while_the_broker_is_down_commits_and_waits_for_the_sweeper(
    start_worker, tmp_path
):
    import subprocess
    import sys

    from tests.conftest import PROJECT_DIR, worker_environment

    card = card_with_mandates()
    script = (
        "import django; django.setup()\n"
        "from accounts.models import Card\n"
        "from accounts.services import change_card_password\n"
        f"card = Card.objects.get(pk={card.pk})\n"
        "change_card_password(card=card, new_password='946381', kind='transaction',"
        " actor=None, channel='mobile_app')\n"
        "print('committed')\n"
    )
    # A web process whose broker is unreachable (nothing listens on port 1).
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT_DIR,
        env=worker_environment(CELERY_BROKER_URL="redis://127.0.0.1:1/0"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "committed" in done.stdout
    card.refresh_from_db()
    assert card.credential_version == 2
    event = OutboxEvent.objects.get()
    assert event.processed_at is None

    start_worker(queues="resync")
    assert sweep_outbox(older_than_seconds=0) == [event.pk]
    wait_until(lambda: all_live_mandates_at(card, 2), message="not repaired by the sweeper")
