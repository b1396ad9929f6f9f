"""Complaint beat tasks: thin, idempotent, each calling one service."""

from celery import shared_task

from backoffice.complaints.services import review_open_repair_promises, watch_complaint_deadlines


@shared_task(name="backoffice.complaints.tasks.watch_complaint_deadlines_task")
def watch_complaint_deadlines_task() -> dict[str, int]:
    return watch_complaint_deadlines()


@shared_task(name="backoffice.complaints.tasks.review_repair_promises_task")
def review_repair_promises_task() -> int:
    return review_open_repair_promises()
