"""A mandate's lifecycle: created pending, activated once bound, suspended, cancelled.

Only the moves in ``debits.mandate_lifecycle.TRANSITIONS`` happen; any other
is refused with a message staff can read, and every move is audited.
"""

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import translation

from accounts.models import AuditEvent
from debits.mandate_lifecycle import TRANSITIONS, states_that_may_become
from debits.models import Loan, Mandate
from debits.services import (
    MandateTermsError,
    MandateTransitionError,
    activate_mandate,
    cancel_mandate,
    create_mandate,
    open_loan,
    resync_mandate,
    suspend_mandate,
)
from tests.factories import CardFactory, MandateFactory, StaffUserFactory

pytestmark = pytest.mark.django_db

ACCOUNT = "6217 0000 1234 5678 903"
START = dt.date(2025, 1, 15)


def _loan(reference="LN0000000001"):
    return open_loan(
        card=CardFactory(),
        reference=reference,
        principal=Decimal("120000.00"),
        annual_rate=Decimal("0.048"),
        term_months=12,
        start_date=START,
        actor=None,
    )


def _create(loan, **terms):
    values = {
        "reference": "MD000000000001",
        "settlement_account": ACCOUNT,
        "valid_from": START,
        "valid_until": dt.date(2026, 4, 15),
        "per_debit_cap": Decimal("11000.00"),
        "actor": None,
    }
    return create_mandate(loan=loan, **{**values, **terms})


def test_a_new_mandate_is_pending_and_holds_only_the_accounts_mask_and_fingerprint():
    officer = StaffUserFactory()
    loan = _loan()

    mandate = _create(loan, actor=officer)

    mandate.refresh_from_db()
    assert mandate.state == Mandate.State.PENDING
    assert (mandate.card_id, mandate.loan) == (loan.card_id, loan)
    assert mandate.purpose == "Car loan LN0000000001 repayment"
    assert mandate.settlement_account_masked == "6217 **** **** 8903"
    assert "1234" not in mandate.settlement_account_fingerprint
    event = AuditEvent.objects.get(action="mandate.created")
    assert (event.actor, event.object_id) == (officer, str(mandate.pk))
    assert "6217000012345678903" not in str(event.summary)


@pytest.mark.parametrize(
    ("terms", "message"),
    [
        ({"per_debit_cap": Decimal("10000.00")}, "below the loan's largest instalment"),
        ({"per_debit_cap": Decimal("0")}, "positive amount"),
        ({"valid_until": dt.date(2025, 12, 31)}, "valid until the last instalment"),
        ({"valid_until": dt.date(2025, 1, 1)}, "end on or after the day it starts"),
        ({"settlement_account": "6217 42"}, "12 to 19 digits"),
    ],
)
def test_a_mandate_whose_terms_could_not_collect_the_loan_is_refused(terms, message):
    loan = _loan()
    with pytest.raises(MandateTermsError, match=message):
        _create(loan, **terms)
    assert not Mandate.objects.exists()


def test_a_loan_has_at_most_one_live_mandate():
    loan = _loan()
    _create(loan)
    with pytest.raises(MandateTermsError, match="already has a live mandate"):
        _create(loan, reference="MD000000000002")


def test_a_settled_loan_gets_no_new_mandate():
    loan = _loan()
    Loan.objects.filter(pk=loan.pk).update(status=Loan.Status.SETTLED)
    loan.refresh_from_db()
    with pytest.raises(MandateTermsError, match="is settled"):
        _create(loan)


def test_a_pending_mandate_is_activated_only_once_its_agreement_is_bound():
    officer = StaffUserFactory()
    mandate = _create(_loan())

    with pytest.raises(MandateTransitionError, match="re-sync it first"):
        activate_mandate(mandate=mandate, actor=officer)
    resync_mandate(mandate=mandate)
    activate_mandate(mandate=mandate, actor=officer)

    mandate.refresh_from_db()
    assert mandate.state == Mandate.State.ACTIVE
    assert mandate.is_in_sync
    event = AuditEvent.objects.get(action="mandate.activated")
    assert event.actor == officer
    assert event.summary == {"from": "pending", "to": "active"}


def test_a_suspended_mandate_is_reinstated_and_its_reason_cleared():
    officer = StaffUserFactory()
    mandate = MandateFactory()

    suspend_mandate(mandate=mandate, reason="Customer disputes the amount", actor=officer)
    mandate.refresh_from_db()
    assert (mandate.state, mandate.state_reason) == (
        Mandate.State.SUSPENDED,
        "Customer disputes the amount",
    )
    activate_mandate(mandate=mandate, actor=officer)

    mandate.refresh_from_db()
    assert (mandate.state, mandate.state_reason) == (Mandate.State.ACTIVE, "")
    suspended = AuditEvent.objects.get(action="mandate.suspended")
    assert (suspended.actor, suspended.reason) == (officer, "Customer disputes the amount")
    assert suspended.summary == {"from": "active", "to": "suspended"}


def test_a_cancelled_mandate_stays_cancelled():
    officer = StaffUserFactory()
    mandate = MandateFactory()

    cancel_mandate(mandate=mandate, reason="Customer withdrew the authorisation", actor=officer)

    for move in (
        lambda: activate_mandate(mandate=mandate, actor=officer),
        lambda: suspend_mandate(mandate=mandate, reason="Again", actor=officer),
        lambda: cancel_mandate(mandate=mandate, reason="Again", actor=officer),
    ):
        with pytest.raises(MandateTransitionError, match="cancelled cannot become"):
            move()
    mandate.refresh_from_db()
    assert mandate.state == Mandate.State.CANCELLED
    assert AuditEvent.objects.filter(action__startswith="mandate.").count() == 1
    event = AuditEvent.objects.get(action="mandate.cancelled")
    assert (event.actor, event.reason) == (officer, "Customer withdrew the authorisation")


@pytest.mark.parametrize(
    ("state", "move", "message"),
    [
        (Mandate.State.PENDING, "suspend", "pending cannot become suspended"),
        (Mandate.State.ACTIVE, "activate", "active cannot become active"),
        (Mandate.State.SUSPENDED, "suspend", "suspended cannot become suspended"),
        (Mandate.State.FAILED, "activate", "failed cannot become active"),
        (Mandate.State.FAILED, "cancel", "failed cannot become cancelled"),
    ],
)
def test_a_move_the_lifecycle_does_not_allow_is_refused_and_changes_nothing(state, move, message):
    mandate = MandateFactory(state=state, state_reason="as it was")
    moves = {
        "activate": lambda: activate_mandate(mandate=mandate, actor=None),
        "suspend": lambda: suspend_mandate(mandate=mandate, reason="Why", actor=None),
        "cancel": lambda: cancel_mandate(mandate=mandate, reason="Why", actor=None),
    }
    with pytest.raises(MandateTransitionError, match=message):
        moves[move]()
    mandate.refresh_from_db()
    assert (mandate.state, mandate.state_reason) == (state, "as it was")
    assert not AuditEvent.objects.filter(action__startswith="mandate.").exists()


@pytest.mark.parametrize("move", [suspend_mandate, cancel_mandate])
def test_suspending_or_cancelling_needs_a_reason(move):
    mandate = MandateFactory()
    with pytest.raises(MandateTransitionError, match="needs a reason"):
        move(mandate=mandate, reason="  ", actor=None)
    mandate.refresh_from_db()
    assert mandate.state == Mandate.State.ACTIVE


def test_a_move_decided_on_a_stale_copy_is_checked_against_the_current_state():
    mandate = MandateFactory()
    stale = Mandate.objects.get(pk=mandate.pk)
    cancel_mandate(mandate=mandate, reason="Account closed", actor=None)

    with pytest.raises(MandateTransitionError, match="cancelled cannot become suspended"):
        suspend_mandate(mandate=stale, reason="Dispute", actor=None)


def test_the_states_a_final_debit_answer_may_fail_are_the_live_states():
    # The debit engine fails a mandate with a conditional UPDATE over
    # Mandate.LIVE_STATES; the lifecycle table must agree with it.
    assert set(states_that_may_become(Mandate.State.FAILED)) == set(Mandate.LIVE_STATES)
    assert TRANSITIONS[Mandate.State.FAILED] == TRANSITIONS[Mandate.State.CANCELLED] == set()


@pytest.mark.django_db(transaction=True)
def test_of_two_staff_members_suspending_one_mandate_at_once_only_one_wins():
    mandate = MandateFactory()
    barrier = threading.Barrier(2)
    won: list[str] = []
    refused: list[str] = []

    def suspend(reason: str):
        # A thread starts in the default language (Chinese); the assertion reads English.
        try:
            barrier.wait()
            fresh = Mandate.objects.get(pk=mandate.pk)
            with translation.override("en"):
                suspend_mandate(mandate=fresh, reason=reason, actor=None)
            won.append(reason)
        except MandateTransitionError as exc:
            refused.append(str(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=suspend, args=(r,)) for r in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(won) == 1
    assert len(refused) == 1
    assert "suspended cannot become suspended" in refused[0]
    mandate.refresh_from_db()
    assert (mandate.state, mandate.state_reason) == (Mandate.State.SUSPENDED, won[0])
    assert AuditEvent.objects.filter(action="mandate.suspended").count() == 1
