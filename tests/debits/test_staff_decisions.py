"""What staff may do next with a late fee or a debit attempt: rules on the model that
the card page and the attempt list show, so no template decides them."""

import pytest

from debits.models import DebitAttempt, LateFee

FEE = LateFee.State


@pytest.mark.parametrize(
    ("state", "waivable", "approvable"),
    [
        (FEE.ACCRUED, True, False),
        (FEE.WAIVER_PENDING, False, True),
        (FEE.WAIVED, False, False),
    ],
)
def test_an_accrued_fee_can_be_waived_and_only_a_pending_waiver_approved(
    state, waivable, approvable
):
    fee = LateFee(state=state)
    assert fee.can_be_waived is waivable
    assert fee.can_be_approved is approvable


@pytest.mark.parametrize("state", list(DebitAttempt.State))
def test_only_a_failed_attempt_can_be_retried_an_unknown_one_settles_first(state):
    assert DebitAttempt(state=state).can_be_retried is (state == DebitAttempt.State.FAILED)
