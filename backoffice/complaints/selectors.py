"""Read queries of the complaints area, each a fixed number of queries however many rows."""

from __future__ import annotations

from django.contrib.auth.models import Permission
from django.db.models import Q, QuerySet

from accounts.models import CustomerNotice, StaffUser
from backoffice.complaints.models import (
    Compensation,
    Complaint,
    ComplaintAssignment,
    DeadlineExtension,
    RepairPromise,
    Team,
)
from backoffice.complaints.services import complaint_diagnosis
from backoffice.complaints.timeline import card_timeline
from debits.models import LateFee

QUEUE_LENGTH = 200


def complaint_queue(
    *, assignee: StaffUser | None = None, team: str = "", state: str = "open"
) -> QuerySet[Complaint]:
    """Complaints by deadline, for one officer, one team, or everyone."""
    complaints = Complaint.objects.select_related("customer", "card", "assignee")
    if state == "open":
        complaints = complaints.filter(state__in=Complaint.OPEN_STATES)
    elif state in Complaint.State.values:
        complaints = complaints.filter(state=state)
    if assignee is not None:
        complaints = complaints.filter(assignee=assignee)
    if team in Team.values:
        complaints = complaints.filter(team=team)
    return complaints.order_by("due_on", "received_at", "pk")[:QUEUE_LENGTH]


def complaint_handlers() -> QuerySet[StaffUser]:
    """Active staff whose role lets them handle complaints (the assignment choices)."""
    permission = Permission.objects.filter(
        content_type__app_label="complaints", codename="handle_complaint"
    )
    return (
        StaffUser.objects.filter(is_active=True)
        .filter(Q(groups__permissions__in=permission) | Q(is_superuser=True))
        .distinct()
        .order_by("last_name", "first_name", "username")
    )


def complaint_page(complaint: Complaint) -> dict:
    """Everything the complaint page shows: the case, the card's timeline, its diagnosis."""
    timeline, diagnosis = complaint_diagnosis(complaint)
    return {
        "complaint": complaint,
        "timeline": timeline,
        "diagnosis": diagnosis,
        "compensations": list(
            Compensation.objects.filter(complaint=complaint).select_related(
                "requested_by", "approved_by"
            )
        ),
        "extensions": list(
            DeadlineExtension.objects.filter(complaint=complaint)
            .select_related("extended_by", "approved_by")
            .order_by("stage")
        ),
        "assignments": list(
            ComplaintAssignment.objects.filter(complaint=complaint).select_related(
                "assignee", "assigned_by"
            )
        ),
        "repair_promise": RepairPromise.objects.filter(complaint=complaint)
        .select_related("compensation")
        .first(),
        # The complaint's own notices (acknowledgement, extensions, decisions), by their key.
        "notices": list(
            CustomerNotice.objects.filter(
                customer_id=complaint.customer_id,
                dedup_key__regex=rf"^complaint_[a-z]+:{complaint.pk}(:|$)",
            ).order_by("created_at", "pk")
        ),
    }


def complaints_for_page() -> QuerySet[Complaint]:
    return Complaint.objects.select_related(
        "customer", "card", "assignee", "logged_by", "decided_by"
    )


def card_timeline_page(card) -> dict:
    return {"card": card, "timeline": card_timeline(card)}


def approvals_waiting() -> dict:
    """What waits for a supervisor: compensations above the threshold, fee waivers, and
    complaints escalated past their deadline."""
    return {
        "escalated": list(
            Complaint.objects.filter(state__in=Complaint.OPEN_STATES, escalated_at__isnull=False)
            .select_related("customer", "assignee")
            .order_by("due_on", "pk")
        ),
        "compensations": list(
            Compensation.objects.filter(state=Compensation.State.AWAITING_APPROVAL)
            .select_related("complaint__customer", "requested_by")
            .order_by("created_at", "pk")
        ),
        "fee_waivers": list(
            LateFee.objects.filter(state=LateFee.State.WAIVER_PENDING)
            .select_related("instalment__loan__card__customer", "waiver_requested_by")
            .order_by("accrued_at", "pk")
        ),
    }


# --- The customer 360° page ------------------------------------------------------------

CUSTOMER_TIMELINE_SHOWN = 15


def customer_complaints_and_timeline(customer, cards: list) -> dict:
    """The customer's open complaints and the newest entries of their cards' timeline."""
    from backoffice.complaints.timeline import cards_timeline

    entries = cards_timeline(cards).entries if cards else []
    return {
        "open_complaints": list(
            Complaint.objects.filter(customer=customer, state__in=Complaint.OPEN_STATES)
            .select_related("card", "assignee")
            .order_by("due_on", "pk")
        ),
        "timeline_entries": entries[::-1][:CUSTOMER_TIMELINE_SHOWN],
    }
