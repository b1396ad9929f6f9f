"""Whether a card password reset link still works, and why not: one rule, on the model."""

import datetime as dt

import pytest
from django.utils import timezone

from accounts.models import PasswordResetRequest

NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
LinkState = PasswordResetRequest.LinkState


def _reset(**fields) -> PasswordResetRequest:
    created, expires = NOW - dt.timedelta(minutes=5), NOW + dt.timedelta(minutes=10)
    return PasswordResetRequest(created_at=created, expires_at=expires, **fields)


def test_a_fresh_link_is_open():
    assert _reset().link_state_at(NOW) == LinkState.OPEN


def test_a_link_expires_at_its_expiry_time_not_a_moment_later():
    reset = _reset()
    assert reset.link_state_at(reset.expires_at - dt.timedelta(seconds=1)) == LinkState.OPEN
    assert reset.link_state_at(reset.expires_at) == LinkState.EXPIRED


def test_a_used_link_reads_as_used_even_after_it_would_have_expired():
    reset = _reset(used_at=NOW)
    assert reset.link_state_at(NOW + dt.timedelta(days=1)) == LinkState.USED


def test_a_link_replaced_by_a_newer_one_reads_as_replaced():
    reset = _reset(cancelled_at=NOW)
    state = reset.link_state_at(NOW + dt.timedelta(days=1))
    assert state == LinkState.CANCELLED
    assert state.label == "Replaced"


@pytest.mark.django_db
def test_the_customer_is_told_the_same_reason_the_staff_page_shows():
    from accounts.services import ResetLinkInvalid, check_password_reset_link
    from tests.factories import CardFactory, StaffUserFactory

    card = CardFactory()
    reset = PasswordResetRequest.objects.create(
        card=card,
        verification_method=PasswordResetRequest.VerificationMethod.BRANCH_ID_CHECK,
        verification_reference="B-1",
        token_fingerprint="f" * 64,
        requested_by=StaffUserFactory(),
        created_at=timezone.now() - dt.timedelta(hours=2),
        expires_at=timezone.now() - dt.timedelta(hours=1),
    )
    assert reset.link_state == LinkState.EXPIRED
    with pytest.raises(ResetLinkInvalid) as refused:
        check_password_reset_link(token_fingerprint=reset.token_fingerprint)
    assert refused.value.reason == reset.link_state
