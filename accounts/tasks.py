"""Celery tasks of accounts: thin wrappers that call one service each."""

from celery import shared_task

from accounts.services.break_glass import end_expired_break_glass
from accounts.services.customer_notices import send_customer_notice, sweep_customer_notices


@shared_task(name="accounts.tasks.end_expired_break_glass_task")
def end_expired_break_glass_task() -> int:
    """Demote every superuser whose break-glass time is up (or who never had a grant)."""
    return end_expired_break_glass()


@shared_task(name="accounts.tasks.send_customer_notice_task")
def send_customer_notice_task(notice_id: int) -> bool:
    return send_customer_notice(notice_id=notice_id)


@shared_task(name="accounts.tasks.sweep_customer_notices_task")
def sweep_customer_notices_task() -> int:
    return len(sweep_customer_notices())
