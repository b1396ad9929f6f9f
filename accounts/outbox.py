"""Handing committed outbox events to the task that consumes each type."""

import datetime as dt
import logging

from celery import current_app
from django.conf import settings
from django.db.models.functions import Coalesce
from django.utils import timezone
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


def claim_for_redispatch(queryset, *, older_than_seconds: float | None, limit: int) -> list[int]:
    """Ids of rows of ``queryset`` last dispatched (or created) too long ago, stamped now.

    Call inside a transaction: the rows are locked with ``skip_locked``, so two
    sweepers (a second beat by mistake, a manual run) never claim the same row,
    and the caller dispatches the claimed ids after commit. The model has
    ``created_at`` and ``last_dispatched_at``; oldest first, at most ``limit``.
    """
    threshold = (
        settings.OUTBOX_REDISPATCH_AFTER_SECONDS
        if older_than_seconds is None
        else older_than_seconds
    )
    now = timezone.now()
    claimed = list(
        queryset.select_for_update(skip_locked=True)
        .annotate(dispatched=Coalesce("last_dispatched_at", "created_at"))
        .filter(dispatched__lte=now - dt.timedelta(seconds=threshold))
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    if claimed:
        queryset.model.objects.filter(pk__in=claimed).update(last_dispatched_at=now)
    return claimed
