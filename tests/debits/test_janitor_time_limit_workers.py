"""The janitor on a slow network, in a real worker under its task time limit.

Found by the fault-injection run (bench/fault_injection.py): a pass claimed its
whole batch, asked the network about every key, and hit the soft time limit
before recording anything; the batch then sat under the pass's lease, and the
next pass did the same. Now a pass asks and records slice by slice within a
time budget, and frees what it did not ask about.
"""

import datetime as dt
import re

import pytest
from django.utils import timezone

from debits.models import DebitAttempt, DebitRun
from debits.services.chunks import claim_chunk
from debits.tasks import settle_unresolved_attempts_task
from demo.load_book import seed_due_instalments
from tests.conftest import wait_until

ATTEMPTS = 1200
# Generous for a pass that should take half of it: on a loaded machine (the whole
# suite on two cores) a slice's round trips and records take several times longer.
SOFT_TIME_LIMIT = 4


@pytest.mark.postgres
@pytest.mark.redis_worker
@pytest.mark.django_db(transaction=True)
def test_a_janitor_pass_on_a_slow_network_settles_what_it_asked_within_its_time_limit(
    start_worker,
):
    today = timezone.localdate()
    ids = seed_due_instalments(count=ATTEMPTS, due_date=today, prefix="J")
    run = DebitRun.objects.create(run_date=today, kind=DebitRun.Kind.MANUAL)
    claims, _ = claim_chunk(run=run, instalment_ids=ids)
    assert len(claims) == ATTEMPTS
    # Their worker died an hour ago, before presenting anything.
    DebitAttempt.objects.update(submitted_at=timezone.now() - dt.timedelta(hours=1))
    # Asking about every key takes 1,200 x 20 ms / 2 calls in flight = 12 s: three
    # times the soft time limit.
    worker = start_worker(
        queues="debits",
        concurrency=1,
        CELERY_TASK_SOFT_TIME_LIMIT=str(SOFT_TIME_LIMIT),
        CELERY_TASK_TIME_LIMIT=str(2 * SOFT_TIME_LIMIT),
        GATEWAY_SIMULATOR_LATENCY_MS="20",
        DEBIT_GATEWAY_CONCURRENCY="2",
    )

    settle_unresolved_attempts_task.delay()

    # Succeeded or not, the task's end is a line in the worker's log.
    ended = re.compile(
        r"settle_unresolved_attempts_task\[[^]]*\] (succeeded in ([0-9.]+)s|raised.*)"
        r"|Hard time limit .* exceeded for \S*settle_unresolved_attempts_task"
    )
    outcome = wait_until(
        lambda: ended.search(worker.log_path.read_text()),
        timeout=90,
        interval=0.2,
        message="the janitor's pass did not end",
    )
    assert outcome.group(2), f"the pass failed: {outcome.group(0)}"
    assert float(outcome.group(2)) < SOFT_TIME_LIMIT, "the pass ran past its soft time limit"
    unsettled = DebitAttempt.objects.filter(state=DebitAttempt.State.SUBMITTED)
    assert unsettled.count() < ATTEMPTS, "the pass settled nothing"
    assert not unsettled.filter(janitor_lease_until__isnull=False).exists()
    settled = DebitAttempt.objects.exclude(state=DebitAttempt.State.SUBMITTED)
    # Never seen by the network: failed as not received, to be collected again.
    assert set(settled.values_list("failure_code", flat=True)) == {"not_received"}
    # The rest is free for the next pass at once, not held for the lease's two minutes.
    assert unsettled.exists()
