"""A debit run while Redis restarts with its data lost: the run still completes,
every instalment is attempted or skipped with a reason, nothing is collected twice.

The test starts its own redis-server on a free port (never the shared one) and
kills it mid-run; the chunk messages waiting in it are gone with it.
"""

import shutil
import time
from collections import Counter

import pytest
from django.utils import timezone

from debits.models import DebitAttempt, DebitRun, DebitRunChunk, Instalment, SkippedInstalment
from demo.load_book import seed_due_instalments
from simulator.models import SimulatedCollection
from tests.conftest import service_unavailable, wait_until
from tests.workers import (
    PrivateRedis,
    WorkerProcess,
    free_port,
    manage,
    sweep_until_finished,
    worker_environment,
)

# Twenty chunks for two worker processes: when the first is done, most of the others
# are still messages waiting in the broker, which its restart loses.
INSTALMENTS = 10_000


@pytest.mark.postgres
@pytest.mark.redis_worker
@pytest.mark.django_db(transaction=True)
def test_a_run_completes_exactly_once_though_redis_restarts_with_its_data_lost(tmp_path):
    if shutil.which("redis-server") is None:
        service_unavailable("redis-server (to restart a broker of the test's own)")
    today = timezone.localdate()
    ids = seed_due_instalments(count=INSTALMENTS, due_date=today, prefix="R")
    port = free_port()
    broker = PrivateRedis(port, tmp_path / "redis.log")
    broker.start()
    env = worker_environment(
        CELERY_BROKER_URL=f"redis://127.0.0.1:{port}/0",
        # Slow enough that the restart lands mid-run; chunks of 500 take seconds.
        GATEWAY_SIMULATOR_LATENCY_MS="30",
        DEBIT_GATEWAY_CONCURRENCY="4",
        # A lost chunk is sent again after 20 s instead of the production 11 minutes.
        DEBIT_CHUNK_LEASE_SECONDS="20",
    )
    worker = WorkerProcess(
        queues="debits", concurrency=2, env=env, log=tmp_path / "worker.log", stop_timeout=30
    )
    try:
        manage(env, "run_debits", "--kind", "scheduled")
        run = DebitRun.objects.get(run_date=today, kind=DebitRun.Kind.SCHEDULED)
        chunks = DebitRunChunk.objects.filter(run=run)
        wait_until(
            lambda: chunks.filter(finished_at__isnull=False).exists(),
            timeout=120,
            message="no chunk finished before the restart",
        )
        untaken = [
            chunk
            for chunk in chunks.filter(finished_at__isnull=True)
            if not DebitAttempt.objects.filter(
                run=run, instalment_id__in=chunk.instalment_ids
            ).exists()
        ]
        assert untaken, "the restart must find chunk messages still waiting in the broker"

        broker.kill()  # every waiting chunk message is gone
        time.sleep(1)
        broker.start()

        sweep_until_finished(run, env, "runs", "attempts")
    finally:
        worker.stop()
        broker.stop()

    run.refresh_from_db()
    assert run.state == DebitRun.State.COMPLETED
    assert not chunks.filter(finished_at__isnull=True).exists()
    assert chunks.filter(dispatches__gt=1).exists(), "lost chunks were sent again"
    # Every due instalment attempted or skipped with a reason, none left out.
    attempted = set(DebitAttempt.objects.filter(run=run).values_list("instalment_id", flat=True))
    skipped = set(SkippedInstalment.objects.filter(run=run).values_list("instalment_id", flat=True))
    assert attempted | skipped == set(ids)
    assert Instalment.objects.filter(pk__in=ids, state=Instalment.State.PAID).count() == len(
        DebitAttempt.objects.filter(run=run, state=DebitAttempt.State.SUCCEEDED)
    )
    # No double collection, by the network's own ledger.
    ledger = list(
        SimulatedCollection.objects.filter(outcome="succeeded").values_list(
            "idempotency_key", flat=True
        )
    )
    per_instalment = Counter(int(key.split("-")[1]) for key in ledger)
    assert max(per_instalment.values()) == 1
    assert set(ledger) == set(
        DebitAttempt.objects.filter(state=DebitAttempt.State.SUCCEEDED).values_list(
            "idempotency_key", flat=True
        )
    )
