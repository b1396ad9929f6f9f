"""Worker processes keep their database connection from task to task, and close
one a task left mid-statement, in a transaction, or after it failed."""

from types import SimpleNamespace

import pytest
from django.db import connection

from backoffice.celery import close_connections_a_task_cannot_hand_on
from debits.models import WorkerHeartbeat
from debits.tasks.operations import record_worker_heartbeat_task
from tests.conftest import wait_until

WORKER_TASK = SimpleNamespace(request=SimpleNamespace(is_eager=False))


def _after_task(state: str = "SUCCESS") -> bool:
    """Run the hook as a worker does after a task; whether the connection was kept."""
    close_connections_a_task_cannot_hand_on(sender=WORKER_TASK, state=state)
    return connection.connection is not None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_idle_connection_after_a_successful_task_is_kept():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    connection.close_at = None  # not past CONN_MAX_AGE
    assert _after_task()

    connection.close_at = 0  # past it
    assert not _after_task()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_connection_left_in_a_transaction_or_after_a_failed_task_is_closed():
    connection.close_at = None
    with connection.cursor() as cursor:
        cursor.execute("BEGIN")
        cursor.execute("SELECT 1")
    assert not _after_task()

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    connection.close_at = None
    assert not _after_task(state="FAILURE")


def test_an_eager_task_leaves_the_connection_alone(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    close_connections_a_task_cannot_hand_on(
        sender=SimpleNamespace(request=SimpleNamespace(is_eager=True)), state="FAILURE"
    )
    assert connection.connection is not None


def _worker_backends() -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        )
        return {pid for (pid,) in cursor.fetchall()}


@pytest.mark.redis_worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_task_after_task_on_one_connection(start_worker):
    start_worker(queues="default", concurrency=1, CONN_MAX_AGE="60")

    def heartbeat() -> None:
        before = WorkerHeartbeat.objects.filter(queue="default").values_list("beat_at").first()
        record_worker_heartbeat_task.apply_async(args=["default"], queue="default")
        wait_until(
            lambda: (
                WorkerHeartbeat.objects.filter(queue="default").values_list("beat_at").first()
                not in (None, before)
            ),
            message="the worker did not run the heartbeat",
        )

    heartbeat()
    first = _worker_backends()
    for _ in range(10):
        heartbeat()

    assert first, "the worker closed its connection after the task"
    assert first & _worker_backends(), "the worker connected afresh for a later task"
