"""A run whose selecting process is SIGKILLed between two pages: the chunks it
recorded are collected by a real debit worker, the run sweeper (as beat runs it)
resumes the selection, and the run completes with every due instalment collected
exactly once, by the network's own ledger."""

import shutil
import signal
import subprocess  # nosec B404 # starts our own python and manage.py
import sys
from collections import Counter

import pytest

from debits.models import DebitAttempt, DebitRun, DebitRunChunk, SkippedInstalment
from debits.services.runs import bank_today
from demo.load_book import seed_due_instalments
from simulator.models import SimulatedCollection
from tests.conftest import PROJECT_DIR, service_unavailable
from tests.workers import (
    PrivateRedis,
    WorkerProcess,
    free_port,
    sweep_until_finished,
    worker_environment,
)

INSTALMENTS = 3000

# Selects in pages of 700 (chunks of 500) and SIGKILLs itself as it reads its third
# page: two pages and two chunks recorded, 400 instalments counted but not chunked.
SELECTION_KILLED = """
import os, signal, django
django.setup()
from debits.models import DebitRun
from debits.services import runs
runs.SELECTION_BATCH = 700
real, pages = runs.load_collection_context, []
def dies_on_third_page(rows, **kwargs):
    pages.append(1)
    if len(pages) == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    return real(rows, **kwargs)
runs.load_collection_context = dies_on_third_page
runs.run_debit_job(on_date=runs.bank_today(), kind=DebitRun.Kind.SCHEDULED)
"""


def run_in(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 # nosec B603 # our own code, fixed arguments
        [sys.executable, *args], cwd=PROJECT_DIR, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


@pytest.mark.postgres
@pytest.mark.redis_worker
@pytest.mark.django_db(transaction=True)
def test_a_run_whose_selection_was_sigkilled_is_resumed_by_the_sweeper_and_completes(tmp_path):
    if shutil.which("redis-server") is None:
        service_unavailable("redis-server (a broker of the test's own)")
    ids = seed_due_instalments(count=INSTALMENTS, due_date=bank_today(), prefix="K")
    port = free_port()
    broker = PrivateRedis(port, tmp_path / "redis.log")
    broker.start()
    env = worker_environment(
        CELERY_BROKER_URL=f"redis://127.0.0.1:{port}/0",
        # The selection's lease, 30 minutes in production.
        DEBIT_RUN_SELECTION_STALE_SECONDS="3",
    )
    worker = WorkerProcess(
        queues="debits", concurrency=2, env=env, log=tmp_path / "worker.log", stop_timeout=30
    )
    try:
        killed = run_in(env, "-c", SELECTION_KILLED)
        assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
        run = DebitRun.objects.get(kind=DebitRun.Kind.SCHEDULED)
        assert run.selection_finished_at is None and run.chunks_total == 2

        sweep_until_finished(run, env, "runs")
    finally:
        worker.stop()
        broker.stop()

    run.refresh_from_db()
    assert run.state == DebitRun.State.COMPLETED and run.selection_finished_at is not None
    chunked = Counter(
        i for c in DebitRunChunk.objects.filter(run=run).values_list("instalment_ids", flat=True)
        for i in c
    )  # fmt: skip
    skipped = set(SkippedInstalment.objects.filter(run=run).values_list("instalment_id", flat=True))
    assert set(chunked) | skipped == set(ids) and set(chunked.values()) == {1}
    attempts = Counter(DebitAttempt.objects.filter(run=run).values_list("instalment_id", flat=True))
    assert set(attempts) == set(chunked) and set(attempts.values()) == {1}
    ledger = SimulatedCollection.objects.filter(outcome="succeeded").values_list(
        "idempotency_key", flat=True
    )
    assert max(Counter(int(key.split("-")[1]) for key in ledger).values()) == 1
    assert run.selected_count == len(chunked)
