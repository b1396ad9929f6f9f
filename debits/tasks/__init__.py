"""Celery tasks of debits: thin wrappers that take ids and call one service."""

from debits.tasks.collection import (
    accrue_late_fees_task,
    collect_debit_chunk_task,
    run_retry_debits_task,
    run_scheduled_debits_task,
    settle_unresolved_attempts_task,
)
from debits.tasks.operations import (
    record_worker_heartbeat_task,
    resync_stale_mandates_task,
    take_operations_snapshot_task,
)
from debits.tasks.reconciliation import reconcile_task
from debits.tasks.resync import (
    consume_credential_change_task,
    resync_mandate_task,
    sweep_outbox_task,
)

__all__ = [
    "accrue_late_fees_task",
    "collect_debit_chunk_task",
    "run_retry_debits_task",
    "run_scheduled_debits_task",
    "settle_unresolved_attempts_task",
    "reconcile_task",
    "record_worker_heartbeat_task",
    "resync_stale_mandates_task",
    "take_operations_snapshot_task",
    "consume_credential_change_task",
    "resync_mandate_task",
    "sweep_outbox_task",
]
