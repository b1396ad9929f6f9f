"""Handing committed outbox events to the task that consumes each type."""

import logging

from celery import current_app
from django.conf import settings
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)


def dispatch_outbox_event(event_id: int, event_type: str) -> None:
    """Hand a committed outbox event to its consumer task, by name.

    accounts does not import debits (debits depends on accounts): the consumer
    task is named in ``settings.OUTBOX_CONSUMER_TASKS`` and resolved through
    Celery's registry, so routing, eager mode in tests and the queue all come
    from Celery's configuration. If the broker is down the event is not lost:
    it stays unprocessed in the outbox and the sweeper dispatches it later.
    """
    task_name = settings.OUTBOX_CONSUMER_TASKS.get(event_type)
    if not task_name:
        return
    try:
        task = current_app.tasks.get(task_name)
        if task is None:
            # Task modules load lazily (autodiscovery); load them once, by name.
            current_app.loader.import_default_modules()
            task = current_app.tasks.get(task_name)
        if task is not None:
            task.apply_async(args=[event_id])
        else:
            current_app.send_task(task_name, args=[event_id])
    except OperationalError:
        logger.warning(
            "outbox event %s not dispatched (broker unavailable); the sweeper will retry",
            event_id,
        )
