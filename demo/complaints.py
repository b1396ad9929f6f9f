"""Demo complaints: a few in each state, the first of them the case the product exists for.

The seed case is written as the debit engine would have left it when a
password change never reached the agreement: the change (through the app, at
21:14), two failed re-syncs, the debit refused as stale, the late fee. The
history is written as rows, like the rest of the demo book, so that no worker
repairs it before a newcomer opens it; the complaints themselves go through
the complaint services (deadlines, acknowledgements, audit, repair clock).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import Card, Channel, PasswordChange, StaffUser
from accounts.roles import Role
from backoffice.complaints.models import Complaint
from backoffice.complaints.services import (
    assign_complaint,
    close_complaint,
    decide_complaint,
    extend_complaint_deadline,
    log_complaint,
)
from debits.models import DebitAttempt, Instalment, LateFee, Mandate, MandateSync
from debits.services.fees import late_fee_amount

SHANGHAI = ZoneInfo("Asia/Shanghai")

# Who logs and handles the demo complaints: logins without a password, so the
# seeding never hands out credentials (demo staff logins are create_demo_staff's).
DESK_STAFF = {
    Role.AGENT: ("demo.desk.agent", "Zhou", "Min"),
    Role.COMPLAINTS_OFFICER: ("demo.desk.officer", "Sun", "Li"),
    Role.SUPERVISOR: ("demo.desk.supervisor", "Wu", "Gang"),
}


@dataclass
class DemoComplaints:
    seed_case: Complaint | None
    complaints: list[Complaint]


def _desk() -> dict[Role, StaffUser]:
    staff = {}
    for role, (username, first, last) in DESK_STAFF.items():
        user, created = StaffUser.objects.get_or_create(
            username=username,
            defaults={"first_name": first, "last_name": last, "is_staff": True},
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
            user.groups.add(Group.objects.get(name=role.value))
        staff[role] = StaffUser.objects.get(pk=user.pk)  # fresh permission cache
    return staff


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=SHANGHAI)


def _seed_case_history(instalment: Instalment, mandate: Mandate, today: dt.date) -> Card:
    """Password change -> re-sync failed twice -> debit failed stale -> late fee."""
    card = mandate.card
    failed_on = instalment.due_date
    changed_at = _at(failed_on - dt.timedelta(days=2), 21, 14)
    Card.objects.filter(pk=card.pk).update(
        credential_version=F("credential_version") + 1, credential_changed_at=changed_at
    )
    card.refresh_from_db()
    PasswordChange.objects.create(
        card=card,
        kind="transaction",
        channel=Channel.MOBILE_APP,
        credential_version=card.credential_version,
        changed_at=changed_at,
    )
    for minutes in (1, 6):
        at = changed_at + dt.timedelta(minutes=minutes)
        MandateSync.objects.create(
            mandate=mandate,
            target_credential_version=card.credential_version,
            trigger=MandateSync.Trigger.CREDENTIAL_CHANGE,
            requested_at=at,
            finished_at=at,
            outcome=MandateSync.Outcome.FAILED,
            error_code="gateway_unavailable",
        )
    attempt_at = _at(failed_on, 6, 0)
    DebitAttempt.objects.create(
        instalment=instalment,
        mandate=mandate,
        attempt_number=1,
        idempotency_key=f"demo-seed-case-{instalment.pk}-1",
        amount=instalment.amount_due,
        presented_credential_version=mandate.synced_credential_version,
        state=DebitAttempt.State.FAILED,
        failure_code="agreement_stale",
        raw_failure_code="stale_agreement",
        failure_message="Agreement bound to a superseded credential",
        created_at=attempt_at,
        submitted_at=attempt_at,
        finished_at=attempt_at,
    )
    Instalment.objects.filter(pk=instalment.pk).update(
        state=Instalment.State.OVERDUE, amount_paid=Decimal("0.00"), paid_at=None
    )
    instalment.refresh_from_db()
    LateFee.objects.create(
        instalment=instalment,
        amount=late_fee_amount(instalment.amount_due),
        accrued_at=_at(min(failed_on + dt.timedelta(days=4), today), 2, 0),
        cause="agreement_stale",
    )
    return card


def _instalments_under_active_mandates():
    return (
        Instalment.objects.filter(loan__mandates__state=Mandate.State.ACTIVE)
        .select_related("loan__card__customer")
        .order_by("due_date", "pk")
    )


@transaction.atomic
def seed_demo_complaints(*, today: dt.date | None = None) -> DemoComplaints:
    """About eight complaints across every state; returns them, the seed case first."""
    today = today or timezone.localdate()
    desk = _desk()
    agent, officer, supervisor = (
        desk[Role.AGENT],
        desk[Role.COMPLAINTS_OFFICER],
        desk[Role.SUPERVISOR],
    )
    seed = None
    # An instalment fallen due a few days ago (the book has it paid): its debit failed.
    recent = (
        _instalments_under_active_mandates()
        .filter(
            due_date__gte=today - dt.timedelta(days=25), due_date__lte=today - dt.timedelta(days=5)
        )
        .first()
    )
    used_cards = set()
    if recent is not None:
        mandate = Mandate.objects.select_related("card").get(
            loan=recent.loan, state=Mandate.State.ACTIVE
        )
        card = _seed_case_history(recent, mandate, today)
        used_cards.add(card.pk)
        seed = log_complaint(
            customer=card.customer,
            card=card,
            category=Complaint.Category.DEBIT_FAILED_AFTER_PASSWORD_CHANGE,
            channel=Complaint.Channel.PHONE,
            description=(
                "I changed my card password in the app. Then my car-loan repayment failed "
                "and I was charged a late fee. It was not my fault."
            ),
            received_at=_at(recent.due_date + dt.timedelta(days=4), 9, 30),
            actor=agent,
        )
        assign_complaint(complaint=seed, assignee=officer, actor=supervisor)

    others = []
    cards = (
        Card.objects.exclude(pk__in=used_cards)
        .filter(loans__mandates__state=Mandate.State.ACTIVE)
        .select_related("customer")
        .distinct()
        .order_by("pk")[:7]
    )
    stories = [
        ("received", Complaint.Category.FEE_DISPUTE, Complaint.Channel.APP, 1),
        ("received", Complaint.Category.OTHER, Complaint.Channel.LETTER, 0),
        ("investigating", Complaint.Category.WRONG_AMOUNT, Complaint.Channel.BRANCH, 6),
        ("extended", Complaint.Category.PASSWORD_RESET_PROBLEM, Complaint.Channel.PHONE, 12),
        ("decided", Complaint.Category.DUPLICATE_DEBIT, Complaint.Channel.REGULATOR_REFERRAL, 9),
        ("closed", Complaint.Category.FEE_DISPUTE, Complaint.Channel.PHONE, 20),
        ("closed", Complaint.Category.OTHER, Complaint.Channel.APP, 40),
    ]
    for card, (state, category, channel, days_ago) in zip(cards, stories, strict=False):
        complaint = log_complaint(
            customer=card.customer,
            card=card,
            category=category,
            channel=channel,
            description=f"Demo complaint: {Complaint.Category(category).label.lower()}.",
            received_at=timezone.now() - dt.timedelta(days=days_ago, hours=2),
            actor=agent,
        )
        if state != "received":
            assign_complaint(complaint=complaint, assignee=officer, actor=supervisor)
        if state == "extended":
            extend_complaint_deadline(
                complaint=complaint,
                reason="Waiting for the payment network's records",
                actor=officer,
            )
        if state in ("decided", "closed"):
            decide_complaint(
                complaint=complaint,
                outcome=Complaint.Outcome.NOT_UPHELD,
                decision="We checked every debit and re-sync on the card: each worked.",
                actor=officer,
            )
        if state == "closed":
            close_complaint(complaint=complaint, actor=officer)
        others.append(complaint)
    return DemoComplaints(seed_case=seed, complaints=[c for c in (seed, *others) if c])
