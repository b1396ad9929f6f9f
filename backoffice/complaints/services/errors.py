"""The complaints' domain error and the vocabulary of their audit events."""

from enum import StrEnum


class ComplaintError(Exception):
    """An action the rules do not allow; the message says why (shown to staff)."""


class ComplaintAction(StrEnum):
    LOGGED = "complaint.logged"
    ASSIGNED = "complaint.assigned"
    ASSIGNMENT_REFUSED = "complaint.assignment_refused"
    INVESTIGATION_STARTED = "complaint.investigation_started"
    DEADLINE_EXTENDED = "complaint.deadline_extended"
    DECIDED = "complaint.decided"
    CLOSED = "complaint.closed"
    REOPENED = "complaint.reopened"
    REMINDED = "complaint.reminder_sent"
    ESCALATED = "complaint.escalated"
    REMEDY_APPLIED = "complaint.remedy_applied"
    COMPENSATION_REQUESTED = "compensation.requested"
    COMPENSATION_GRANTED = "compensation.granted"
    COMPENSATION_PROPOSED = "compensation.proposed"
    COMPENSATION_APPROVED = "compensation.approved"
    COMPENSATION_APPROVAL_REFUSED = "compensation.approval_refused"
    COMPENSATION_REJECTED = "compensation.rejected"
    REPAIR_CLOCK_STARTED = "repair_promise.started"
    REPAIR_PROMISE_KEPT = "repair_promise.kept"
    REPAIR_PROMISE_BROKEN = "repair_promise.broken"
