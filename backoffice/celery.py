import os

from celery import Celery
from celery.signals import task_postrun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backoffice.settings")

app = Celery("backoffice")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_postrun.connect
def close_connections_a_task_cannot_hand_on(sender=None, state=None, **_kwargs) -> None:
    """After each task, keep a database connection only if the next task may use it.

    Celery reuses connections only with CELERY_DB_REUSE_MAX set, because a time limit
    can interrupt a statement and leave a connection Django still thinks usable
    (celery/celery#9824). Here the protocol says so instead: a connection not idle
    (a statement interrupted, a transaction left open or failed), after a task that
    did not succeed, or past CONN_MAX_AGE is closed; the next task connects afresh.
    """
    if sender is None or getattr(sender.request, "is_eager", False):
        return
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        if connection.in_atomic_block:
            continue
        if state != "SUCCESS" or not _idle(connection):
            connection.close()
        else:
            connection.close_if_unusable_or_obsolete()


def _idle(connection) -> bool:
    raw = connection.connection
    if raw is None:
        return True
    if connection.vendor != "postgresql":
        return True
    from psycopg import pq

    return not raw.closed and raw.info.transaction_status == pq.TransactionStatus.IDLE
