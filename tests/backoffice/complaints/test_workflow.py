"""A complaint's life: intake, assignment without conflicts, deadlines, decision, reopening."""

import datetime as dt

import pytest
from django.utils import timezone

from accounts.audit_actions import AuditAction
from accounts.models import AuditEvent, Channel, CustomerNotice, Language
from backoffice.complaints import deadlines
from backoffice.complaints.models import Complaint, ComplaintAssignment, RootCause
from backoffice.complaints.services import (
    ComplaintError,
    assign_complaint,
    close_complaint,
    decide_complaint,
    extend_complaint_deadline,
    log_complaint,
    reopen_complaint,
    watch_complaint_deadlines,
)
from tests.backoffice.complaints.conftest import build_seed_case
from tests.factories import CardFactory, StaffUserFactory

pytestmark = pytest.mark.django_db


def log(card, actor, **kwargs):
    return log_complaint(
        customer=card.customer,
        card=card,
        category=Complaint.Category.DEBIT_FAILED_AFTER_PASSWORD_CHANGE,
        channel=Complaint.Channel.PHONE,
        description="The debit failed and I was charged a fee.",
        actor=actor,
        **kwargs,
    )


def test_an_agent_logs_a_complaint_and_the_customer_is_acknowledged_in_chinese(agent):
    card = CardFactory(customer__language=Language.CHINESE)
    received = timezone.make_aware(dt.datetime(2026, 11, 20, 23, 59), deadlines.SHANGHAI)

    complaint = log(card, agent, received_at=received)

    assert complaint.state == Complaint.State.RECEIVED
    assert complaint.received_on == dt.date(2026, 11, 20)
    assert complaint.due_on == dt.date(2026, 12, 5)
    notice = CustomerNotice.objects.get(topic=CustomerNotice.Topic.COMPLAINT_ACKNOWLEDGED)
    assert notice.language == Language.CHINESE and "我们已" in notice.body
    assert "2026-12-05" in notice.body
    event = AuditEvent.objects.get(action=AuditAction.COMPLAINT_LOGGED)
    assert event.actor == agent and event.object_id == str(complaint.pk)


def test_a_card_of_another_customer_is_refused(agent):
    card, other = CardFactory(), CardFactory()
    with pytest.raises(ComplaintError, match="another customer"):
        log_complaint(
            customer=other.customer,
            card=card,
            category="other",
            channel="phone",
            description="x",
            actor=agent,
        )


def test_the_staff_member_who_performed_the_disputed_reset_cannot_be_assigned(officer, supervisor):
    case = build_seed_case(channel=Channel.STAFF_RESET, resetter=officer)
    complaint = log(case.card, supervisor)

    with pytest.raises(ComplaintError, match="cannot handle this complaint") as refused:
        assign_complaint(complaint=complaint, assignee=officer, actor=supervisor)

    assert "reset started by Li Na" in str(refused.value)
    complaint.refresh_from_db()
    assert complaint.assignee is None and complaint.state == Complaint.State.RECEIVED
    refusal = AuditEvent.objects.get(action=AuditAction.COMPLAINT_ASSIGNMENT_REFUSED)
    assert refusal.actor == supervisor and refusal.summary["assignee"] == officer.pk


def test_an_officer_with_no_part_in_the_events_is_assigned_and_investigation_starts(
    officer, supervisor
):
    case = build_seed_case(channel=Channel.STAFF_RESET, resetter=officer)
    complaint = log(case.card, supervisor)
    colleague = StaffUserFactory(role="complaints officer")

    assign_complaint(
        complaint=complaint, assignee=colleague, actor=supervisor, team="card_operations"
    )

    assert complaint.assignee == colleague and complaint.team == "card_operations"
    assert complaint.state == Complaint.State.INVESTIGATING
    assert ComplaintAssignment.objects.get().assigned_by == supervisor
    assert AuditEvent.objects.get(action=AuditAction.COMPLAINT_ASSIGNED).actor == supervisor


def test_logging_a_complaint_does_not_make_the_agent_conflicted(agent, officer):
    complaint = log(build_seed_case().card, agent)
    officer_who_logged = StaffUserFactory(role="complaints officer")
    second = log(complaint.card, officer_who_logged)

    assign_complaint(complaint=second, assignee=officer_who_logged, actor=officer)

    assert second.assignee == officer_who_logged


def test_someone_who_does_not_handle_complaints_cannot_be_assigned(agent, officer):
    complaint = log(CardFactory(), agent)
    with pytest.raises(ComplaintError, match="does not handle complaints"):
        assign_complaint(complaint=complaint, assignee=agent, actor=officer)


def test_an_illegal_transition_is_a_domain_error(agent, officer):
    complaint = log(CardFactory(), agent)
    with pytest.raises(ComplaintError, match="received cannot become closed"):
        close_complaint(complaint=complaint, actor=officer)
    with pytest.raises(ComplaintError, match="received cannot become decided"):
        decide_complaint(complaint=complaint, outcome="upheld", decision="Yes.", actor=officer)


def test_an_agent_may_log_but_not_decide(agent):
    complaint = log(CardFactory(), agent)
    with pytest.raises(ComplaintError, match="permission"):
        extend_complaint_deadline(complaint=complaint, reason="complex", actor=agent)


def test_the_deadline_extends_to_30_days_with_a_reason_and_to_60_only_by_a_supervisor(
    agent, officer, supervisor
):
    complaint = log(CardFactory(), agent)
    with pytest.raises(ComplaintError, match="reason"):
        extend_complaint_deadline(complaint=complaint, reason=" ", actor=officer)

    first = extend_complaint_deadline(
        complaint=complaint, reason="Needs the network's records", actor=officer
    )
    assert complaint.due_on == complaint.received_on + dt.timedelta(days=30)
    assert first.approved_by is None

    with pytest.raises(ComplaintError, match="supervisor"):
        extend_complaint_deadline(complaint=complaint, reason="Still complex", actor=officer)
    second = extend_complaint_deadline(
        complaint=complaint, reason="Particularly complex", actor=supervisor
    )
    assert complaint.due_on == complaint.received_on + dt.timedelta(days=60)
    assert second.approved_by == supervisor
    told = CustomerNotice.objects.filter(topic=CustomerNotice.Topic.COMPLAINT_EXTENDED)
    assert told.count() == 2 and "Particularly complex" in told.last().body

    with pytest.raises(ComplaintError, match="60 days"):
        extend_complaint_deadline(complaint=complaint, reason="More", actor=supervisor)
    assert AuditEvent.objects.filter(action=AuditAction.COMPLAINT_DEADLINE_EXTENDED).count() == 2


def test_a_deadline_already_passed_cannot_be_extended(agent, officer):
    received = timezone.now() - dt.timedelta(days=20)
    complaint = log(CardFactory(), agent, received_at=received)
    with pytest.raises(ComplaintError, match="already passed"):
        extend_complaint_deadline(complaint=complaint, reason="Late", actor=officer)


def test_the_decision_records_the_root_cause_and_tells_the_customer_the_further_channels(
    agent, officer
):
    case = build_seed_case()
    complaint = log(case.card, agent)
    assign_complaint(complaint=complaint, assignee=officer, actor=officer)

    decide_complaint(
        complaint=complaint,
        outcome=Complaint.Outcome.UPHELD,
        decision="The fee is waived and the debit retried.",
        actor=officer,
    )

    assert complaint.state == Complaint.State.DECIDED
    assert complaint.root_cause == RootCause.BANK_SYNC_FAILURE
    assert "old password" in complaint.diagnosis["en"]
    notice = CustomerNotice.objects.get(topic=CustomerNotice.Topic.COMPLAINT_DECIDED)
    assert "upheld" in notice.body and "mediation" in notice.body and "arbitration" in notice.body
    assert "court" in notice.body and "review" in notice.body
    decided = AuditEvent.objects.get(action=AuditAction.COMPLAINT_DECIDED)
    assert decided.actor == officer and decided.summary["root_cause"] == "bank_sync_failure"


def test_a_closed_complaint_can_be_reopened_and_decided_again(agent, officer):
    complaint = log(CardFactory(), agent)
    assign_complaint(complaint=complaint, assignee=officer, actor=officer)
    decide_complaint(complaint=complaint, outcome="not_upheld", decision="No fault.", actor=officer)
    close_complaint(complaint=complaint, actor=officer)

    reopen_complaint(complaint=complaint, reason="The customer asked for a review", actor=officer)
    assert complaint.state == Complaint.State.INVESTIGATING
    decide_complaint(
        complaint=complaint, outcome="partly_upheld", decision="Goodwill.", actor=officer
    )

    assert CustomerNotice.objects.filter(topic="complaint_decided").count() == 2
    assert AuditEvent.objects.filter(action=AuditAction.COMPLAINT_REOPENED, actor=officer).exists()


def test_the_watch_reminds_before_the_deadline_and_escalates_once_after_it(agent, officer):
    now = timezone.now()
    near = log(CardFactory(), agent, received_at=now - dt.timedelta(days=13))
    late = log(CardFactory(), agent, received_at=now - dt.timedelta(days=17))
    fresh = log(CardFactory(), agent, received_at=now)

    assert watch_complaint_deadlines(now=now) == {"reminded": 1, "escalated": 1}
    assert watch_complaint_deadlines(now=now) == {"reminded": 0, "escalated": 0}

    near.refresh_from_db(), late.refresh_from_db(), fresh.refresh_from_db()
    assert near.reminded_at is not None and near.escalated_at is None
    assert late.escalated_at is not None
    assert fresh.reminded_at is None and fresh.escalated_at is None
    assert AuditEvent.objects.filter(action=AuditAction.COMPLAINT_ESCALATED).count() == 1
