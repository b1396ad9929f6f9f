"""Compensation: maker-checker above the threshold, in the service and in the database."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from accounts.audit_actions import AuditAction
from accounts.models import AuditEvent
from backoffice.complaints.models import Compensation
from backoffice.complaints.services import (
    ComplaintError,
    approve_compensation,
    reject_compensation,
    request_compensation,
)
from tests.conftest import sign_in_verified
from tests.factories import ComplaintFactory, StaffUserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def threshold(settings):
    settings.COMPENSATION_APPROVAL_THRESHOLD = Decimal("200.00")


def ask(actor, amount: str, kind=Compensation.Kind.GOODWILL):
    return request_compensation(
        complaint=ComplaintFactory(),
        kind=kind,
        amount=Decimal(amount),
        reason="The bank's failure cost the customer a day",
        actor=actor,
    )


def test_a_compensation_up_to_the_threshold_is_granted_by_the_officer_alone(officer):
    compensation = ask(officer, "200.00")

    assert compensation.state == Compensation.State.APPROVED
    assert compensation.approved_by is None
    event = AuditEvent.objects.get(action=AuditAction.COMPENSATION_GRANTED)
    assert event.actor == officer


def test_above_the_threshold_it_waits_for_a_second_approver(officer, supervisor):
    compensation = ask(officer, "200.01")
    assert compensation.state == Compensation.State.AWAITING_APPROVAL

    approve_compensation(compensation=compensation, approver=supervisor)

    compensation.refresh_from_db()
    assert compensation.state == Compensation.State.APPROVED
    assert compensation.approved_by == supervisor
    approved = AuditEvent.objects.get(action=AuditAction.COMPENSATION_APPROVED)
    assert approved.actor == supervisor and approved.summary["requested_by"] == officer.pk


def test_a_requester_cannot_approve_their_own_compensation_and_the_attempt_is_audited(
    supervisor,
):
    compensation = ask(supervisor, "500.00")

    with pytest.raises(ComplaintError, match="cannot approve it"):
        approve_compensation(compensation=compensation, approver=supervisor)

    compensation.refresh_from_db()
    assert compensation.state == Compensation.State.AWAITING_APPROVAL
    refused = AuditEvent.objects.get(action=AuditAction.COMPENSATION_APPROVAL_REFUSED)
    assert refused.actor == supervisor


def test_an_officer_without_the_role_cannot_approve(officer):
    compensation = ask(StaffUserFactory(role="complaints officer"), "500.00")
    with pytest.raises(ComplaintError, match="supervisor"):
        approve_compensation(compensation=compensation, approver=officer)


def test_the_database_refuses_an_approver_who_is_the_requester(supervisor):
    compensation = ask(supervisor, "500.00")
    with pytest.raises(IntegrityError), transaction.atomic():
        Compensation.objects.filter(pk=compensation.pk).update(
            state=Compensation.State.APPROVED, approved_by=supervisor
        )


def test_a_second_approver_may_turn_a_request_down_with_a_reason(officer, supervisor):
    compensation = ask(officer, "500.00")
    with pytest.raises(ComplaintError, match="Say why"):
        reject_compensation(compensation=compensation, actor=supervisor, reason="")
    reject_compensation(compensation=compensation, actor=supervisor, reason="Already refunded")
    compensation.refresh_from_db()
    assert compensation.state == Compensation.State.REJECTED
    assert AuditEvent.objects.get(action=AuditAction.COMPENSATION_REJECTED).actor == supervisor


def test_an_agent_gets_403_on_the_approval_url(client, officer):
    compensation = ask(officer, "500.00")
    agent = StaffUserFactory(role="agent")
    sign_in_verified(client, agent)

    response = client.post(f"/complaints/compensations/{compensation.pk}/approve/")

    assert response.status_code == 403
    compensation.refresh_from_db()
    assert compensation.state == Compensation.State.AWAITING_APPROVAL


def test_the_supervisors_queue_holds_compensations_and_fee_waivers_awaiting_approval(
    client, officer, supervisor, seed_case
):
    from debits.models import LateFee
    from debits.services import waive_late_fee

    compensation = ask(officer, "500.00")
    LateFee.objects.filter(pk=seed_case.fee.pk).update(amount=Decimal("250.00"))
    seed_case.fee.refresh_from_db()
    waive_late_fee(fee=seed_case.fee, reason="Bank-side", actor=officer)
    sign_in_verified(client, supervisor)

    page = client.get("/complaints/approvals/")

    assert page.status_code == 200
    assert f"#{compensation.complaint_id}".encode() in page.content
    assert b"\xc2\xa5250.00" in page.content  # the fee waiting for its waiver


def test_a_supervisors_dashboard_lists_what_waits_for_their_approval(client, officer, supervisor):
    compensation = ask(officer, "500.00")
    sign_in_verified(client, supervisor)

    page = client.get("/").content.decode()

    assert "Waiting for your approval" in page
    assert f"/complaints/compensations/{compensation.pk}/approve/" in page


def test_an_agents_dashboard_has_no_approval_queue(client, officer):
    ask(officer, "500.00")
    sign_in_verified(client, StaffUserFactory(role="agent"))

    assert "Waiting for your approval" not in client.get("/").content.decode()


def test_a_complaint_escalated_past_its_deadline_reaches_the_supervisors_dashboard(
    client, supervisor
):
    import datetime as dt

    from django.utils import timezone

    from backoffice.complaints.services import watch_complaint_deadlines

    late = ComplaintFactory(received_at=timezone.now() - dt.timedelta(days=20))
    watch_complaint_deadlines()
    sign_in_verified(client, supervisor)

    page = client.get("/").content.decode()

    assert "Complaints past their deadline" in page and f"/complaints/{late.pk}/" in page
