"""Real workers on PostgreSQL and Redis: every instalment collected exactly once, the
simulated network's ledger agrees, even when a tenth of the collects time out."""

import datetime as dt
from collections import Counter

import pytest
from django.utils import timezone

from debits.models import DebitAttempt, DebitRun, Instalment
from debits.services import run_debit_job, settle_unresolved_attempts
from demo.load_book import seed_due_instalments
from simulator.models import SimulatedCollection
from tests.conftest import wait_until
from tests.debit_helpers import bank_day

INSTALMENTS = 10_000


def _wait_for(run: DebitRun, timeout: float = 150) -> DebitRun:
    def done():
        run.refresh_from_db()
        return run.state != DebitRun.State.RUNNING

    wait_until(done, timeout=timeout, interval=0.5, message=f"run #{run.pk} did not finish")
    return run


@pytest.mark.postgres
@pytest.mark.redis_worker
@pytest.mark.django_db(transaction=True)
def test_four_worker_processes_collect_every_instalment_exactly_once_despite_timeouts(
    start_worker, settings, collect_path
):
    today = timezone.localdate()
    ids = seed_due_instalments(count=INSTALMENTS, due_date=today)
    # The test process plays the janitor; the workers never run it.
    settings.DEBIT_UNKNOWN_NOT_RECEIVED_AFTER_SECONDS = 0
    start_worker(
        queues="debits",
        concurrency=4,
        GATEWAY_SIMULATOR_SEED="20261126",
        GATEWAY_SIMULATOR_TIMEOUT_RATE="0.1",
        DEBIT_GATEWAY_CONCURRENCY="4",
        DEBIT_GATEWAY_BATCH_SIZE=str(settings.DEBIT_GATEWAY_BATCH_SIZE),
    )

    run = _wait_for(run_debit_job(on_date=today, kind=DebitRun.Kind.SCHEDULED))
    assert run.selected_count == INSTALMENTS
    first_unknown = DebitAttempt.objects.filter(state=DebitAttempt.State.UNKNOWN).count()
    # About 10 % time out; half of those after the network collected.
    assert 500 < first_unknown < 1500

    # Janitor, then a retry run, until nothing is left: each retry run counts as a
    # later day so that the same-day retry cap never holds an instalment back.
    for day in range(1, 8):
        settle_unresolved_attempts(now=timezone.now() + dt.timedelta(seconds=1))
        if not Instalment.objects.exclude(state=Instalment.State.PAID).exists():
            break
        later = today + dt.timedelta(days=day)
        with bank_day(later):
            retry = run_debit_job(on_date=later, kind=DebitRun.Kind.RETRY)
        _wait_for(retry)

    left = Instalment.objects.exclude(state=Instalment.State.PAID)
    assert not left.exists(), [
        (
            list(
                i.attempts.values_list("attempt_number", "state", "failure_code", "next_retry_on")
            ),
            list(i.skips.values_list("run_id", "reason")),
        )
        for i in left[:3]
    ]
    # Every instalment paid, by exactly one succeeded attempt...
    assert Instalment.objects.filter(pk__in=ids, state=Instalment.State.PAID).count() == INSTALMENTS
    succeeded = list(
        DebitAttempt.objects.filter(state=DebitAttempt.State.SUCCEEDED).values_list(
            "instalment_id", "idempotency_key"
        )
    )
    assert len(succeeded) == INSTALMENTS
    assert len({instalment for instalment, _ in succeeded}) == INSTALMENTS
    assert not DebitAttempt.objects.filter(state__in=DebitAttempt.IN_FLIGHT_STATES).exists()
    # ...and the network's own ledger collected each instalment exactly once, under
    # the very key the bank recorded as succeeded.
    ledger = list(
        SimulatedCollection.objects.filter(outcome="succeeded").values_list(
            "idempotency_key", flat=True
        )
    )
    per_instalment = Counter(int(key.split("-")[1]) for key in ledger)
    assert len(ledger) == INSTALMENTS
    assert set(per_instalment) == set(ids)
    assert max(per_instalment.values()) == 1
    assert set(ledger) == {key for _, key in succeeded}
