"""Celery tasks of debits: thin wrappers that take ids and call one service."""

from debits.tasks.resync import (
    consume_credential_change_task,
    resync_mandate_task,
    sweep_outbox_task,
)

__all__ = ["consume_credential_change_task", "resync_mandate_task", "sweep_outbox_task"]
