"""Reconciliation tasks: one per detector, each on its own beat schedule."""

from celery import shared_task

from debits.services.agreement_reconciliation import reconcile_agreement_chunk
from debits.services.reconciliation import run_reconciliation


@shared_task(name="debits.tasks.reconciliation.reconcile_task")
def reconcile_task(detector: str, **options) -> dict:
    (report,) = run_reconciliation(only=detector, **options)
    return report.as_dict()


@shared_task(name="debits.tasks.reconciliation.reconcile_agreement_chunk_task")
def reconcile_agreement_chunk_task(pass_id: int, after_id: int, last_id: int) -> dict:
    return reconcile_agreement_chunk(pass_id=pass_id, after_id=after_id, last_id=last_id)
