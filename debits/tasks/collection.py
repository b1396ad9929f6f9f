"""Debit tasks (queue "debits"): thin, idempotent, taking ids and calling one service.

Every task here may run twice (acks_late, at-least-once delivery): runs are
unique per scheduled day, chunks claim only instalments with nothing in flight,
the janitor settles only what is still unsettled, fees are unique per instalment.
"""

from celery import shared_task
from celery.signals import worker_process_init
from django.utils import timezone

from debits.gateways.pool import keep_gateway_connections
from debits.models import DebitRun
from debits.services import (
    accrue_late_fees,
    collect_debit_chunk,
    run_debit_job,
    settle_unresolved_attempts,
)


@worker_process_init.connect
def _keep_gateway_connections(**_kwargs) -> None:
    # A worker process collects chunk after chunk: reconnecting 16 gateway
    # threads for each one cost more than a chunk's own queries.
    keep_gateway_connections()


@shared_task(name="debits.tasks.collection.run_scheduled_debits_task")
def run_scheduled_debits_task() -> int:
    return run_debit_job(on_date=timezone.localdate(), kind=DebitRun.Kind.SCHEDULED).pk


@shared_task(name="debits.tasks.collection.run_retry_debits_task")
def run_retry_debits_task() -> int:
    """Intraday: collects what the outcome table made due again today (same-day
    re-sync retries, outage backoff, not-received attempts)."""
    return run_debit_job(on_date=timezone.localdate(), kind=DebitRun.Kind.RETRY).pk


@shared_task(name="debits.tasks.collection.collect_debit_chunk_task")
def collect_debit_chunk_task(
    run_id: int,
    instalment_ids: list[int],
    honour_retry_schedule: bool = True,
    chunk_id: int | None = None,
) -> dict:
    summary = collect_debit_chunk(
        run_id=run_id,
        instalment_ids=instalment_ids,
        honour_retry_schedule=honour_retry_schedule,
        chunk_id=chunk_id,
    )
    return {"claimed": summary.claimed, "skipped": summary.skipped}


@shared_task(name="debits.tasks.collection.settle_unresolved_attempts_task")
def settle_unresolved_attempts_task() -> dict:
    return dict(settle_unresolved_attempts())


@shared_task(name="debits.tasks.collection.accrue_late_fees_task")
def accrue_late_fees_task() -> dict:
    return accrue_late_fees(on_date=timezone.localdate())
