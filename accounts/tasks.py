"""Celery tasks of accounts: thin wrappers that call one service each."""

from celery import shared_task

from accounts.services.break_glass import end_expired_break_glass


@shared_task(name="accounts.tasks.end_expired_break_glass_task")
def end_expired_break_glass_task() -> int:
    """Demote every superuser whose break-glass time is up (or who never had a grant)."""
    return end_expired_break_glass()
