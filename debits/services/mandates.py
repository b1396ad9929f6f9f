"""A mandate's life: created pending, activated, suspended, reinstated, cancelled.

Which moves are allowed is decided in ``debits.mandate_lifecycle`` alone. Each
move locks the mandate's row first, so of two staff members acting on one
mandate at once the second sees the first one's result, and is refused if the
move no longer makes sense (suspending what was just cancelled).
"""

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max

from accounts.audit import AuditAction, record_audit_event
from accounts.models import StaffUser
from accounts.pii import card_number_fingerprint, mask_account_number, normalise_card_number
from debits.mandate_lifecycle import MandateTransitionError, check_transition
from debits.models import Instalment, Loan, Mandate

_REASON_LIMIT = 200


class MandateTermsError(Exception):
    """A mandate that cannot be created with these terms (shown to staff as a message)."""


def mandate_purpose(loan_reference: str) -> str:
    """The purpose a loan's mandate states; the debit engine checks it names the loan."""
    return f"Car loan {loan_reference} repayment"


@transaction.atomic
def create_mandate(
    *,
    loan: Loan,
    reference: str,
    settlement_account: str,
    valid_from: dt.date,
    valid_until: dt.date,
    per_debit_cap: Decimal,
    actor: StaffUser | None,
) -> Mandate:
    """Record the customer's authorisation to collect ``loan`` from ``settlement_account``.

    The mandate starts pending: it may be collected under only once its agreement
    is bound at the payment network (``resync_mandate``) and it is activated. Its
    terms are the ones every debit is checked against, so terms under which some
    open instalment could never be collected are refused here. The full account
    number is kept only as its mask and keyed fingerprint.
    """
    if loan.status != Loan.Status.ACTIVE:
        raise MandateTermsError(f"Loan {loan.reference} is {loan.get_status_display().lower()}")
    account = normalise_card_number(settlement_account)
    if not 12 <= len(account) <= 19:
        raise MandateTermsError("The settlement account number must have 12 to 19 digits")
    if valid_until < valid_from:
        raise MandateTermsError("The mandate must end on or after the day it starts")
    if per_debit_cap <= 0:
        raise MandateTermsError("The per-debit cap must be a positive amount")
    open_instalments = Instalment.objects.filter(loan=loan, state__in=Instalment.OPEN_STATES)
    span = open_instalments.aggregate(largest=Max("amount_due"), last_due=Max("due_date"))
    if span["largest"] is not None and per_debit_cap < span["largest"]:
        raise MandateTermsError(
            f"The per-debit cap {per_debit_cap} is below the loan's largest instalment "
            f"{span['largest']}"
        )
    if span["last_due"] is not None and valid_until < span["last_due"]:
        raise MandateTermsError(
            f"The mandate must stay valid until the last instalment falls due "
            f"({span['last_due']:%Y-%m-%d})"
        )
    if Mandate.objects.filter(loan=loan, state__in=Mandate.LIVE_STATES).exists():
        raise MandateTermsError(f"Loan {loan.reference} already has a live mandate")
    if Mandate.objects.filter(reference=reference).exists():
        raise MandateTermsError(f"A mandate with reference {reference} already exists")
    try:
        with transaction.atomic():
            mandate = Mandate.objects.create(
                card_id=loan.card_id,
                loan=loan,
                reference=reference,
                payee=settings.DEBIT_PAYEE_NAME,
                purpose=mandate_purpose(loan.reference),
                settlement_account_masked=mask_account_number(account),
                settlement_account_fingerprint=card_number_fingerprint(account),
                valid_from=valid_from,
                valid_until=valid_until,
                per_debit_cap=per_debit_cap,
                state=Mandate.State.PENDING,
            )
    except IntegrityError as exc:
        # One live mandate per loan and unique references are the database's to
        # guard; the checks above only give the usual case a clearer message.
        raise MandateTermsError(
            f"Loan {loan.reference} already has a live mandate, or reference {reference} is taken"
        ) from exc
    record_audit_event(
        actor=actor,
        action=AuditAction.MANDATE_CREATED,
        target=mandate,
        summary={
            "loan": loan.reference,
            "per_debit_cap": str(per_debit_cap),
            "valid_from": valid_from.isoformat(),
            "valid_until": valid_until.isoformat(),
        },
    )
    return mandate


@transaction.atomic
def activate_mandate(*, mandate: Mandate, actor: StaffUser | None, reason: str = "") -> Mandate:
    """Let debits be presented under the mandate: a pending one once its agreement is
    bound at the payment network, or a suspended one reinstated."""
    return _move(
        mandate,
        target=Mandate.State.ACTIVE,
        action=AuditAction.MANDATE_ACTIVATED,
        actor=actor,
        reason=reason,
        needs_agreement=True,
    )


@transaction.atomic
def suspend_mandate(*, mandate: Mandate, reason: str, actor: StaffUser | None) -> Mandate:
    """Stop debits under the mandate until it is activated again; runs skip it with the reason."""
    return _move(
        mandate,
        target=Mandate.State.SUSPENDED,
        action=AuditAction.MANDATE_SUSPENDED,
        actor=actor,
        reason=_required(reason, "Suspending a mandate needs a reason"),
    )


@transaction.atomic
def cancel_mandate(*, mandate: Mandate, reason: str, actor: StaffUser | None) -> Mandate:
    """End the mandate for good (withdrawn by the customer or the bank); a new one is
    needed to collect the loan again."""
    return _move(
        mandate,
        target=Mandate.State.CANCELLED,
        action=AuditAction.MANDATE_CANCELLED,
        actor=actor,
        reason=_required(reason, "Cancelling a mandate needs a reason"),
    )


def _required(reason: str, message: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise MandateTransitionError(message)
    return reason


def _move(
    mandate: Mandate,
    *,
    target: str,
    action: str,
    actor: StaffUser | None,
    reason: str,
    needs_agreement: bool = False,
) -> Mandate:
    # The row lock makes check-then-write safe: a concurrent move waits here and
    # then checks against the state this one left.
    locked = Mandate.objects.select_for_update().get(pk=mandate.pk)
    previous = locked.state
    check_transition(current=previous, target=target, reference=locked.reference)
    if needs_agreement and not locked.gateway_agreement_token:
        raise MandateTransitionError(
            f"Mandate {locked.reference} has no agreement bound at the payment network "
            "yet: re-sync it first"
        )
    locked.state = target
    locked.state_reason = reason[:_REASON_LIMIT]
    locked.save(update_fields=["state", "state_reason"])
    mandate.state, mandate.state_reason = locked.state, locked.state_reason
    record_audit_event(
        actor=actor,
        action=action,
        target=locked,
        summary={"from": previous, "to": target},
        reason=reason[:300],
    )
    return locked
