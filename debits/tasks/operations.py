"""Operations tasks: heartbeats, the hourly snapshot, re-syncing stale mandates.

Thin and idempotent like every task here: a heartbeat or snapshot taken twice
is the same row, and a re-sync binds a version once.
"""

from celery import shared_task

from accounts.models import StaffUser
from debits.services.operations import record_worker_heartbeat, take_operations_snapshot
from debits.services.reconciliation import reconcile_stale_mandates


@shared_task(bind=True, name="debits.tasks.operations.record_worker_heartbeat_task")
def record_worker_heartbeat_task(self, queue: str) -> None:
    """Sent by beat to each queue: the worker that takes it proves the queue is served
    (and its arrival proves beat is sending)."""
    record_worker_heartbeat(queue=queue, hostname=self.request.hostname or "")


@shared_task(name="debits.tasks.operations.take_operations_snapshot_task")
def take_operations_snapshot_task() -> int:
    return take_operations_snapshot().pk


@shared_task(name="debits.tasks.operations.resync_stale_mandates_task")
def resync_stale_mandates_task(older_than_seconds: int | None = None, actor_id=None) -> dict:
    actor = StaffUser.objects.filter(pk=actor_id).first() if actor_id else None
    return reconcile_stale_mandates(older_than_seconds=older_than_seconds, actor=actor).as_dict()
