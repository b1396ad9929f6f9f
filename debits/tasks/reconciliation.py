"""Reconciliation tasks: one per detector, each on its own beat schedule."""

from celery import shared_task

from debits.services.reconciliation import run_reconciliation


@shared_task(name="debits.tasks.reconciliation.reconcile_task")
def reconcile_task(detector: str) -> dict:
    (report,) = run_reconciliation(only=detector)
    return report.as_dict()
