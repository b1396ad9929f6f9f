"""The demo's story customers: besides the healthy book, one customer per case staff meet.

- the password change whose re-sync failed, the debit refused as stale, the late
  fee and the complaint (``demo.complaints``' seed case), here also given up on
  by the re-sync retries: the mandate is flagged and operations have an open alert;
- a gateway outage on the due date: the debit failed ``gateway_unavailable`` and
  the late fee that followed was waived automatically (the bank's fault);
- a customer out of funds: three failed tries on the retry schedule, the next
  one booked, a late fee charged;
- a fee waiver an officer asked for, awaiting a supervisor's approval;
- complaints in every state (``demo.complaints``).

Debit attempts are written as rows dated in the past, as the engine would have
left them: the engine collects only what falls due today, and the simulator's
faults are rates, not a chosen customer. Everything that follows from them goes
through the domain's services, so the rows are consistent and audited: the
late fees through ``accrue_late_fees`` (which waives the bank-side one), the
waiver through ``waive_late_fee``, the given-up re-sync and its alert through
``mark_mandate_sync_failed``.

``seed_demo_stories`` is idempotent: a story already in the book is left as it
is, so running the demo twice gives the same book.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Card, Customer
from accounts.roles import Role
from backoffice.complaints.models import Complaint
from debits.models import DebitAttempt, Instalment, LateFee, Mandate
from debits.services import accrue_late_fees, mark_mandate_sync_failed, waive_late_fee
from demo.complaints import SHANGHAI, _desk, seed_demo_complaints

# Idempotency keys of the story attempts start with this: it marks a story as told.
STORY_KEY_PREFIX = "demo-story-"
OUTAGE = "outage"
OUT_OF_FUNDS = "out-of-funds"
WAIVER = "waiver"
# Days before today each story's instalment fell due: past the late-fee grace
# period, within the last month so it is on the card's first screen.
DAYS_AGO = {OUTAGE: 9, OUT_OF_FUNDS: 12}
WAIVER_REASON = "Customer was in hospital on the due date; first late payment in three years"


@dataclass
class DemoStories:
    """The story customers, by case (None where the book had no customer to tell it)."""

    stale_after_password_change: Customer | None = None
    outage_fee_waived: Customer | None = None
    out_of_funds: Customer | None = None
    waiver_awaiting_approval: Customer | None = None
    complaints: list[Complaint] = field(default_factory=list)

    def by_case(self) -> dict[str, Customer | None]:
        return {
            "stale debit after a password change": self.stale_after_password_change,
            "gateway outage, fee waived": self.outage_fee_waived,
            "out of funds, retries": self.out_of_funds,
            "waiver awaiting approval": self.waiver_awaiting_approval,
        }


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=SHANGHAI)


def _story_card(story: str) -> Card | None:
    attempt = (
        DebitAttempt.objects.filter(idempotency_key__startswith=f"{STORY_KEY_PREFIX}{story}-")
        .select_related("instalment__loan__card__customer")
        .first()
    )
    return attempt.instalment.loan.card if attempt else None


def _free_instalment(*, due_on: dt.date, exclude_cards: set[int], largest: bool = False):
    """An instalment due that day (the book has it paid) under an active mandate, on a card
    no other story uses; the largest one when its late fee should be large."""
    candidates = (
        Instalment.objects.filter(
            loan__mandates__state=Mandate.State.ACTIVE,
            due_date__gte=due_on - dt.timedelta(days=3),
            due_date__lte=due_on,
            attempts__isnull=True,
            late_fee__isnull=True,
        )
        .exclude(loan__card_id__in=exclude_cards)
        .select_related("loan__card__customer")
    )
    ordering = ("-amount_due", "pk") if largest else ("-due_date", "pk")
    return candidates.order_by(*ordering).first()


def _reopen(instalment: Instalment) -> None:
    Instalment.objects.filter(pk=instalment.pk).update(
        state=Instalment.State.DUE, amount_paid=Decimal("0.00"), paid_at=None
    )


def _failed_attempt(instalment, mandate, *, story, number, on, code, raw, message, retry_on=None):
    at = _at(on, 6, 0)
    return DebitAttempt.objects.create(
        instalment=instalment,
        mandate=mandate,
        attempt_number=number,
        idempotency_key=f"{STORY_KEY_PREFIX}{story}-{instalment.pk}-{number}",
        amount=instalment.amount_due,
        presented_credential_version=mandate.synced_credential_version,
        state=DebitAttempt.State.FAILED,
        failure_code=code,
        raw_failure_code=raw,
        failure_message=message,
        next_retry_on=retry_on,
        created_at=at,
        submitted_at=at,
        finished_at=at + dt.timedelta(seconds=2),
    )


def _mandate(instalment: Instalment) -> Mandate:
    return Mandate.objects.get(loan_id=instalment.loan_id, state=Mandate.State.ACTIVE)


def _tell_outage(today: dt.date, used: set[int]) -> Card | None:
    instalment = _free_instalment(
        due_on=today - dt.timedelta(days=DAYS_AGO[OUTAGE]), exclude_cards=used
    )
    if instalment is None:
        return None
    _reopen(instalment)
    mandate = _mandate(instalment)
    # The network was down on the due date and again on the retry after its backoff.
    for number, days_after in ((1, 0), (2, 1)):
        _failed_attempt(
            instalment, mandate, story=OUTAGE, number=number,
            on=instalment.due_date + dt.timedelta(days=days_after),
            code="gateway_unavailable", raw="503",
            message="Payment network unavailable (HTTP 503)",
        )  # fmt: skip
    return instalment.loan.card


def _tell_out_of_funds(today: dt.date, used: set[int]) -> Card | None:
    instalment = _free_instalment(
        due_on=today - dt.timedelta(days=DAYS_AGO[OUT_OF_FUNDS]), exclude_cards=used, largest=True
    )
    if instalment is None:
        return None
    _reopen(instalment)
    mandate = _mandate(instalment)
    # Tried on the due date, then after each failure on the retry schedule (days).
    tried_on = instalment.due_date
    schedule = list(settings.DEBIT_RETRY_SCHEDULE_DAYS)
    for number in range(1, min(3, settings.DEBIT_MAX_ATTEMPTS - 1) + 1):
        wait = schedule[min(number - 1, len(schedule) - 1)]
        _failed_attempt(
            instalment, mandate, story=OUT_OF_FUNDS, number=number, on=tried_on,
            code="insufficient_funds", raw="51", message="Insufficient funds in the account",
            retry_on=tried_on + dt.timedelta(days=wait),
        )  # fmt: skip
        tried_on += dt.timedelta(days=wait)
    return instalment.loan.card


def _flag_given_up_resync(seed_case: Complaint | None) -> None:
    """The seed case's re-sync retries ran out: flagged, and operations alerted."""
    if seed_case is None or seed_case.card_id is None:
        return
    mandate = Mandate.objects.filter(card_id=seed_case.card_id, state=Mandate.State.ACTIVE).first()
    if mandate is not None and mandate.sync_failed_at is None:
        mark_mandate_sync_failed(mandate=mandate, reason="gateway_unavailable", attempts=2)


def _request_waiver(card: Card | None) -> None:
    """An officer asks to waive the out-of-funds customer's fee; above the approval
    threshold it waits for a supervisor."""
    if card is None:
        return
    fee = LateFee.objects.filter(instalment__loan__card=card, state=LateFee.State.ACCRUED).first()
    if fee is not None:
        waive_late_fee(fee=fee, reason=WAIVER_REASON, actor=_desk()[Role.COMPLAINTS_OFFICER])


def _stories_found(seed_case: Complaint | None) -> DemoStories:
    out_of_funds = _story_card(OUT_OF_FUNDS)
    outage = _story_card(OUTAGE)
    waiting = (
        LateFee.objects.filter(state=LateFee.State.WAIVER_PENDING, waiver_reason=WAIVER_REASON)
        .select_related("instalment__loan__card__customer")
        .first()
    )
    seed_card = seed_case.card if seed_case is not None else None
    return DemoStories(
        stale_after_password_change=seed_card.customer if seed_card else None,
        outage_fee_waived=outage.customer if outage else None,
        out_of_funds=out_of_funds.customer if out_of_funds else None,
        waiver_awaiting_approval=waiting.instalment.loan.card.customer if waiting else None,
        complaints=list(Complaint.objects.order_by("pk")),
    )


def _seed_case() -> Complaint | None:
    return (
        Complaint.objects.filter(category=Complaint.Category.DEBIT_FAILED_AFTER_PASSWORD_CHANGE)
        .select_related("card__customer")
        .order_by("pk")
        .first()
    )


@transaction.atomic
def seed_demo_stories(*, today: dt.date | None = None) -> DemoStories:
    """Tell each story once; a second call finds them told and changes nothing."""
    today = today or timezone.localdate()
    if not Complaint.objects.exists():
        seed_demo_complaints(today=today)
    seed_case = _seed_case()
    if DebitAttempt.objects.filter(idempotency_key__startswith=STORY_KEY_PREFIX).exists():
        return _stories_found(seed_case)

    _flag_given_up_resync(seed_case)
    used = set(Complaint.objects.exclude(card=None).values_list("card_id", flat=True))
    outage = _tell_outage(today, used)
    if outage is not None:
        used.add(outage.pk)
    out_of_funds = _tell_out_of_funds(today, used)
    # The night's accrual: the outage's fee is waived as the bank's fault, the
    # out-of-funds customer's is charged.
    accrue_late_fees(on_date=today)
    _request_waiver(out_of_funds)
    return _stories_found(seed_case)
