"""Opening a car loan on a card, with its equal-instalment schedule."""

import datetime as dt
from decimal import Decimal

from django.db import IntegrityError, transaction

from accounts.audit import AuditAction, record_audit_event
from accounts.models import Card, StaffUser
from debits.amortisation import equal_instalment_schedule
from debits.models import Instalment, Loan

# Loan.annual_rate holds six decimal places; a finer rate would be rounded on
# save, and the stored loan would no longer match the schedule computed here.
RATE_PLACES = Decimal("0.000001")


class LoanTermsError(Exception):
    """A loan that cannot be opened as asked (shown to staff as a message)."""


@transaction.atomic
def open_loan(
    *,
    card: Card,
    reference: str,
    principal: Decimal,
    annual_rate: Decimal,
    term_months: int,
    start_date: dt.date,
    actor: StaffUser | None,
    vehicle: str = "",
) -> Loan:
    """Open a loan on an active card and write its schedule: one instalment a month,
    each scheduled, from ``debits.amortisation`` (exact to the cent).

    ``actor`` is the staff member opening it, or None for the system (an import).
    """
    if card.status != Card.Status.ACTIVE:
        raise LoanTermsError(
            f"{card} is {card.get_status_display().lower()}: a loan opens only on an active card"
        )
    if isinstance(annual_rate, Decimal) and annual_rate != annual_rate.quantize(RATE_PLACES):
        raise LoanTermsError("The annual rate may have at most six decimal places")
    try:
        schedule = equal_instalment_schedule(
            principal=principal,
            annual_rate=annual_rate,
            term_months=term_months,
            start_date=start_date,
        )
    except (TypeError, ValueError) as exc:
        message = str(exc)
        raise LoanTermsError(message[:1].upper() + message[1:]) from exc
    if Loan.objects.filter(reference=reference).exists():
        raise LoanTermsError(f"A loan with reference {reference} already exists")
    try:
        with transaction.atomic():
            loan = Loan.objects.create(
                card=card,
                reference=reference,
                vehicle=vehicle,
                principal=principal,
                annual_rate=annual_rate,
                term_months=term_months,
                start_date=start_date,
            )
    except IntegrityError as exc:
        # A concurrent opening took the reference between the check and the insert.
        raise LoanTermsError(f"A loan with reference {reference} already exists") from exc
    Instalment.objects.bulk_create(
        Instalment(
            loan=loan,
            sequence=row.sequence,
            due_date=row.due_date,
            principal_part=row.principal_part,
            interest_part=row.interest_part,
            amount_due=row.amount_due,
            state=Instalment.State.SCHEDULED,
        )
        for row in schedule
    )
    record_audit_event(
        actor=actor,
        action=AuditAction.LOAN_OPENED,
        target=loan,
        summary={
            "card": card.pk,
            "principal": str(principal),
            "annual_rate": str(annual_rate),
            "term_months": term_months,
            "first_due": schedule[0].due_date.isoformat(),
            "last_due": schedule[-1].due_date.isoformat(),
            "total_interest": str(sum(row.interest_part for row in schedule)),
        },
    )
    return loan
