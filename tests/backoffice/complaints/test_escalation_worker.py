"""The deadline beat task through a real Celery worker on Redis and PostgreSQL."""

import datetime as dt

import pytest
from django.utils import timezone

from accounts.audit_actions import AuditAction
from accounts.models import AuditEvent
from backoffice.complaints.models import Complaint
from backoffice.complaints.tasks import watch_complaint_deadlines_task
from tests.conftest import wait_until
from tests.factories import ComplaintFactory

pytestmark = [pytest.mark.redis_worker, pytest.mark.django_db(transaction=True)]


def test_a_complaint_past_its_deadline_is_escalated_once_by_the_beat_task(start_worker):
    worker = start_worker(queues="default", concurrency=1)
    late = ComplaintFactory(received_at=timezone.now() - dt.timedelta(days=16))
    on_time = ComplaintFactory(received_at=timezone.now() - dt.timedelta(days=2))

    watch_complaint_deadlines_task.delay()
    watch_complaint_deadlines_task.delay()

    wait_until(
        lambda: Complaint.objects.get(pk=late.pk).escalated_at is not None,
        message="the worker did not escalate the late complaint",
    )
    wait_until(
        lambda: AuditEvent.objects.filter(action=AuditAction.COMPLAINT_ESCALATED).count() >= 1
    )
    # Both runs done: the second found nothing left to escalate.
    wait_until(
        lambda: worker.log_path.read_text().count("watch_complaint_deadlines_task") >= 4,
        message="the worker did not finish both runs",
    )
    assert AuditEvent.objects.filter(action=AuditAction.COMPLAINT_ESCALATED).count() == 1
    assert Complaint.objects.get(pk=on_time.pk).escalated_at is None
