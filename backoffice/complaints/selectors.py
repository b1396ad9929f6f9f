"""Read queries of the complaints area, each a fixed number of queries however many rows."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import Permission
from django.core.paginator import Page, Paginator
from django.db.models import Q, QuerySet
from django.urls import reverse

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
from backoffice.complaints.timeline import card_timeline, cards_timeline
from debits.models import LateFee

# A page of the queue: what an officer takes in at once. Each row costs the page its
# rendering: with 200 rows it took 240-254 ms p95 at two requests at once on the
# million-customer book, with 50 (and only the columns shown) 44-65 ms.
QUEUE_PAGE_SIZE = 50
# Only the columns the queue shows: the description and the notes stay in the table.
_QUEUE_COLUMNS = (
    "customer_id",
    "card_id",
    "assignee_id",
    "category",
    "state",
    "team",
    "deadline_stage",
    "received_at",
    "due_on",
    "escalated_at",
    "customer__full_name",
    "card__last_four",
    "assignee__username",
    "assignee__first_name",
    "assignee__last_name",
)


def complaint_queue(
    *, assignee: StaffUser | None = None, team: str = "", state: str = "open"
) -> QuerySet[Complaint]:
    """Complaints by deadline, for one officer, one team, or everyone."""
    complaints = Complaint.objects.select_related("customer", "card", "assignee").only(
        *_QUEUE_COLUMNS
    )
    if state == "open":
        complaints = complaints.filter(state__in=Complaint.OPEN_STATES)
    elif state in Complaint.State.values:
        complaints = complaints.filter(state=state)
    if assignee is not None:
        complaints = complaints.filter(assignee=assignee)
    if team in Team.values:
        complaints = complaints.filter(team=team)
    return complaints.order_by("due_on", "received_at", "pk")


# The queue's coded columns, each shown by its label.
_QUEUE_LABELLED_FIELDS = ("category", "state", "team", "deadline_stage")
_URL_MARKER = 987654321


def _url_by_pk(name: str):
    """``pk -> URL`` of a page that takes one integer, reversed once per page rather
    than once per row (``reverse`` walks the URL patterns each time)."""
    head, tail = reverse(name, args=[_URL_MARKER]).split(str(_URL_MARKER))
    return lambda pk: f"{head}{pk}{tail}"


def complaint_queue_page(
    *,
    today: dt.date,
    page: int = 1,
    assignee: StaffUser | None = None,
    team: str = "",
    state: str = "open",
) -> Page:
    """A page of the queue (``complaint_queue``) ready to show: each row carries its labels
    (``category_label``, ``state_label``, ``team_label``, ``deadline_stage_label``),
    ``overdue`` and its links ``detail_url`` and ``customer_url``. The labels are
    translated once per page: ``get_FOO_display`` hashes every lazy label of the
    field's choices on each call, a third of the queue's time at 200 rows."""
    labels = {
        name: {value: str(text) for value, text in Complaint._meta.get_field(name).flatchoices}
        for name in _QUEUE_LABELLED_FIELDS
    }
    shown = Paginator(
        complaint_queue(assignee=assignee, team=team, state=state), QUEUE_PAGE_SIZE
    ).get_page(page)
    rows = shown.object_list = list(shown.object_list)
    detail_url = _url_by_pk("complaints:detail")
    customer_url = _url_by_pk("customers:customer_detail")
    for row in rows:
        row.detail_url, row.customer_url = detail_url(row.pk), customer_url(row.customer_id)
        for name in _QUEUE_LABELLED_FIELDS:
            code = getattr(row, name)
            setattr(row, f"{name}_label", labels[name].get(code, code))
        row.overdue = row.is_open and row.due_on < today
    return shown


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


def customer_open_complaints(customer) -> list:
    """The customer's open complaints, the soonest due first."""
    return list(
        Complaint.objects.filter(customer=customer, state__in=Complaint.OPEN_STATES)
        .select_related("card", "assignee")
        .order_by("due_on", "pk")
    )


def customer_timeline_entries(customer) -> list:
    """The newest entries of the timeline of all the customer's cards, newest first."""
    cards = list(customer.cards.order_by("pk"))
    entries = cards_timeline(cards).entries if cards else []
    return entries[::-1][:CUSTOMER_TIMELINE_SHOWN]
