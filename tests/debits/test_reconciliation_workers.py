"""Real workers on PostgreSQL and Redis: with real-time re-sync switched off,
reconciliation alone brings every mandate back in sync before the next run."""

import pytest
from django.utils import timezone

from accounts.models import CardCredential, Channel, OutboxEvent
from accounts.services import change_card_password
from debits.models import DebitAttempt, DebitRun, Mandate, MandateSync
from debits.operations_selectors import out_of_sync_mandates
from debits.services import run_debit_job
from tests.conftest import wait_until
from tests.debit_helpers import due_instalment
from tests.factories import CardCredentialFactory

CARDS = 40


@pytest.mark.postgres
@pytest.mark.redis_worker
@pytest.mark.django_db(transaction=True)
def test_with_resync_off_reconciliation_alone_brings_every_mandate_back_before_the_run(
    start_worker, settings
):
    from debits.tasks import reconcile_task

    settings.AUTO_RESYNC_ENABLED = False
    mandates = []
    for _ in range(CARDS):
        _, mandate = due_instalment()
        CardCredentialFactory(card=mandate.card)
        mandates.append(mandate)
    start_worker(
        queues="default,resync,debits",
        concurrency=2,
        AUTO_RESYNC_ENABLED="false",
        RECONCILIATION_STALE_MANDATE_AFTER_SECONDS="0",
        OUTBOX_STUCK_AFTER_SECONDS="0",
    )

    for mandate in mandates:
        change_card_password(
            card=mandate.card,
            new_password="739164",
            kind=CardCredential.Kind.TRANSACTION,
            actor=None,
            channel=Channel.MOBILE_APP,
        )
    # The original failure: the change reached the card, not the agreements.
    assert out_of_sync_mandates().count() == CARDS

    # What beat does on its schedules: each detector as its own task, on a worker.
    reconcile_task.delay("stale_mandates")
    wait_until(
        lambda: not out_of_sync_mandates().exists(),
        timeout=90,
        interval=0.5,
        message="reconciliation did not bring the mandates back in sync",
    )
    reconcile_task.delay("outbox")
    wait_until(
        lambda: not OutboxEvent.objects.filter(processed_at__isnull=True).exists(),
        timeout=60,
        interval=0.5,
        message="the settled credential-change events were not closed",
    )
    syncs = MandateSync.objects.filter(outcome=MandateSync.Outcome.SUCCEEDED)
    assert set(syncs.values_list("trigger", flat=True)) == {MandateSync.Trigger.RECONCILIATION}
    assert syncs.count() == CARDS

    # The next run: every debit presented with an agreement bound to the new version.
    run = run_debit_job(on_date=timezone.localdate(), kind=DebitRun.Kind.SCHEDULED)

    def finished():
        run.refresh_from_db()
        return run.state != DebitRun.State.RUNNING

    wait_until(finished, timeout=90, interval=0.5, message="the debit run did not finish")
    attempts = DebitAttempt.objects.filter(run=run)
    assert attempts.count() == CARDS
    assert not attempts.filter(failure_code="agreement_stale").exists()
    assert attempts.filter(state=DebitAttempt.State.SUCCEEDED).count() == CARDS
    assert not MandateSync.objects.filter(trigger=MandateSync.Trigger.PREFLIGHT).exists()
    assert Mandate.objects.filter(synced_credential_version=2).count() == CARDS
