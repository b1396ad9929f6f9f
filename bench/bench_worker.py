"""The project's Celery app, counting every SQL statement its worker processes run.

``bench/debit_throughput.py`` starts ``celery -A bench_worker worker`` (this
directory on PYTHONPATH) with BENCH_STATEMENTS_DIR set: every database
connection a worker process opens (its own and its gateway threads') gets an
execute wrapper, and after each task the process writes its running total to
``<dir>/<pid>``. Nothing here runs in production.
"""

import os
import threading
from pathlib import Path

from celery.signals import task_postrun
from django.db.backends.signals import connection_created
from django.dispatch import receiver

from backoffice.celery import app

__all__ = ["app"]

_lock = threading.Lock()
_count = 0


def _count_statement(execute, sql, params, many, context):
    global _count
    with _lock:
        _count += 1
    return execute(sql, params, many, context)


@receiver(connection_created)
def _wrap(sender, connection, **_kwargs):
    if _count_statement not in connection.execute_wrappers:
        connection.execute_wrappers.append(_count_statement)


@task_postrun.connect
def _report(**_kwargs):
    folder = os.environ.get("BENCH_STATEMENTS_DIR")
    if folder:
        with _lock:
            total = _count
        Path(folder, str(os.getpid())).write_text(str(total))
