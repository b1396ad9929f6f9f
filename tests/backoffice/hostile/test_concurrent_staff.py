"""Two staff members (or two tabs, or a double click) acting on one fee, mandate or
card at the same moment: one wins, the other is told why not, nothing is lost.

Each race puts the second action in the middle of the first one's transaction
(``tests.race``), on real PostgreSQL connections.
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.db.models import F
from django.utils import translation

from accounts.audit import AuditAction
from accounts.models import AuditEvent, Card, Channel, OutboxEvent, PasswordChange
from accounts.models import PasswordResetRequest as Reset
from accounts.services import (
    ResetLinkInvalid,
    change_card_password,
    complete_password_reset,
    start_password_reset,
)
from accounts.services.card_credentials import reset_token_fingerprint
from debits.mandate_lifecycle import MandateTransitionError
from debits.models import LateFee, Mandate, MandateSync
from debits.services import (
    FeeWaiverError,
    MandateNotResyncable,
    approve_fee_waiver,
    cancel_mandate,
    resync_mandate,
    suspend_mandate,
    waive_late_fee,
)
from tests.factories import CardCredentialFactory, InstalmentFactory, MandateFactory
from tests.factories import StaffUserFactory as Staff
from tests.race import race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

FEES_AUDIT = "debits.services.fees.record_audit_event"
MANDATES_AUDIT = "debits.services.mandates.record_audit_event"
RESYNC_GATEWAY = "debits.services.resync.get_gateway"
CARD_AUDIT = "accounts.services.card_credentials.record_audit_event"
CREDENTIAL_CHANGE_AUDIT = "accounts.services.credential_versions.record_audit_event"


def _staff(name: str):
    # A transactional test's flush removes the role groups; a superuser needs none.
    return Staff(username=name, is_superuser=True, password=None)


def _fee(**fields) -> LateFee:
    return LateFee.objects.create(
        instalment=InstalmentFactory(due_date=dt.date.today() - dt.timedelta(days=10)),
        amount=Decimal("50.00"),
        cause="insufficient_funds",
        **fields,
    )


def _events(action: AuditAction) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action))


# --- Fees -------------------------------------------------------------------------


def test_of_two_staff_waiving_one_fee_at_once_one_waives_it_and_the_other_is_told():
    fee = _fee()
    first, second = _staff("wang"), _staff("li")

    a, b = race(
        lambda: waive_late_fee(fee=LateFee.objects.get(pk=fee.pk), reason="double", actor=first),
        lambda: waive_late_fee(fee=LateFee.objects.get(pk=fee.pk), reason="click", actor=second),
        at=FEES_AUDIT,
    )

    assert a.won and isinstance(b.error, FeeWaiverError)
    assert str(b.error) == "Only an accrued fee can be waived"
    fee.refresh_from_db()
    assert (fee.state, fee.waiver_requested_by, fee.waiver_reason) == (
        LateFee.State.WAIVED,
        first,
        "double",
    )
    [event] = _events(AuditAction.LATE_FEE_WAIVED)
    assert event.actor == first


def test_of_two_supervisors_approving_one_waiver_at_once_one_approves_it():
    requester = _staff("agent")
    fee = _fee(
        state=LateFee.State.WAIVER_PENDING, waiver_requested_by=requester, waiver_reason="bank"
    )
    first, second = _staff("zhao"), _staff("qian")

    a, b = race(
        lambda: approve_fee_waiver(fee=fee, approver=first),
        lambda: approve_fee_waiver(fee=fee, approver=second),
        at=FEES_AUDIT,
    )

    assert a.won and isinstance(b.error, FeeWaiverError)
    assert str(b.error) == "This fee has no waiver awaiting approval"
    fee.refresh_from_db()
    assert (fee.state, fee.waiver_approved_by) == (LateFee.State.WAIVED, first)
    [event] = _events(AuditAction.LATE_FEE_WAIVER_APPROVED)
    assert event.actor == first


# --- Mandates ---------------------------------------------------------------------


def _mandate_now(mandate: Mandate) -> Mandate:
    return Mandate.objects.get(pk=mandate.pk)


def test_a_suspension_arriving_while_a_cancellation_commits_is_refused():
    mandate = MandateFactory()
    first, second = _staff("cancels"), _staff("suspends")

    a, b = race(
        lambda: cancel_mandate(mandate=_mandate_now(mandate), reason="withdrawn", actor=first),
        lambda: suspend_mandate(mandate=_mandate_now(mandate), reason="check", actor=second),
        at=MANDATES_AUDIT,
    )

    assert a.won and isinstance(b.error, MandateTransitionError)
    # The refusal names both states, in whichever language the racing thread speaks.
    message = str(b.error).lower()
    for state in (Mandate.State.CANCELLED, Mandate.State.SUSPENDED):
        names = set()
        for language in ("en", "zh-hans"):
            with translation.override(language):
                names.add(str(state.label).lower())
        assert any(name in message for name in names), (state, message)
    mandate.refresh_from_db()
    assert (mandate.state, mandate.state_reason) == (Mandate.State.CANCELLED, "withdrawn")
    assert not _events(AuditAction.MANDATE_SUSPENDED)


def test_a_cancellation_arriving_while_a_suspension_commits_follows_it_and_both_are_kept():
    mandate = MandateFactory()
    first, second = _staff("suspends"), _staff("cancels")

    a, b = race(
        lambda: suspend_mandate(mandate=_mandate_now(mandate), reason="check", actor=first),
        lambda: cancel_mandate(mandate=_mandate_now(mandate), reason="withdrawn", actor=second),
        at=MANDATES_AUDIT,
    )

    assert a.won and b.won
    mandate.refresh_from_db()
    assert (mandate.state, mandate.state_reason) == (Mandate.State.CANCELLED, "withdrawn")
    [suspended] = _events(AuditAction.MANDATE_SUSPENDED)
    [cancelled] = _events(AuditAction.MANDATE_CANCELLED)
    assert (suspended.summary["to"], cancelled.summary["from"]) == ("suspended", "suspended")


def test_of_two_staff_cancelling_one_mandate_at_once_the_second_is_told_it_is_cancelled():
    mandate = MandateFactory()

    a, b = race(
        lambda: cancel_mandate(mandate=_mandate_now(mandate), reason="one", actor=_staff("a")),
        lambda: cancel_mandate(mandate=_mandate_now(mandate), reason="two", actor=None),
        at=MANDATES_AUDIT,
    )

    assert a.won and isinstance(b.error, MandateTransitionError)
    assert len(_events(AuditAction.MANDATE_CANCELLED)) == 1


def test_a_resync_arriving_while_a_cancellation_commits_is_refused():
    mandate = MandateFactory()
    Card.objects.filter(pk=mandate.card_id).update(credential_version=F("credential_version") + 1)

    a, b = race(
        lambda: cancel_mandate(mandate=_mandate_now(mandate), reason="gone", actor=_staff("c")),
        lambda: resync_mandate(mandate=_mandate_now(mandate), actor=_staff("r")),
        at=MANDATES_AUDIT,
    )

    assert a.won and isinstance(b.error, MandateNotResyncable)
    assert not MandateSync.objects.exists()


def test_a_cancellation_during_a_resync_call_to_the_network_stands():
    mandate = MandateFactory()
    Card.objects.filter(pk=mandate.card_id).update(credential_version=F("credential_version") + 1)

    a, b = race(
        lambda: resync_mandate(mandate=_mandate_now(mandate), actor=_staff("r")),
        lambda: cancel_mandate(mandate=_mandate_now(mandate), reason="gone", actor=_staff("c")),
        at=RESYNC_GATEWAY,
    )

    assert a.won and b.won
    mandate.refresh_from_db()
    assert (mandate.state, mandate.state_reason) == (Mandate.State.CANCELLED, "gone")


def test_of_two_resyncs_of_one_mandate_at_once_one_binds_and_the_other_finds_it_done():
    mandate = MandateFactory()
    Card.objects.filter(pk=mandate.card_id).update(credential_version=F("credential_version") + 1)

    a, b = race(
        lambda: resync_mandate(mandate=_mandate_now(mandate), actor=_staff("one")),
        lambda: resync_mandate(mandate=_mandate_now(mandate), actor=_staff("two")),
        at=RESYNC_GATEWAY,
    )

    assert a.won and b.won
    assert b.value.outcome == MandateSync.Outcome.SUCCEEDED
    assert a.value.outcome == MandateSync.Outcome.ALREADY_IN_SYNC
    mandate.refresh_from_db()
    assert mandate.is_in_sync
    assert len(_events(AuditAction.MANDATE_RESYNCED)) == 1


# --- Cards ------------------------------------------------------------------------


def _start(card, actor) -> Reset:
    return start_password_reset(
        card=card,
        kind="transaction",
        verification_method=Reset.VerificationMethod.BRANCH_ID_CHECK,
        verification_reference="BR-0042 ID seen",
        delivery_channel=Reset.DeliveryChannel.SMS,
        actor=actor,
    )


@pytest.fixture(autouse=True)
def _recorded_notifications(settings):
    settings.NOTIFICATION_BACKEND = "accounts.notifications.RecordingNotificationBackend"


def test_two_submits_of_one_reset_link_at_once_change_the_password_once():
    card = CardCredentialFactory().card
    reset = _start(card, _staff("agent"))
    token = "known-token"
    Reset.objects.filter(pk=reset.pk).update(token_fingerprint=reset_token_fingerprint(token))

    a, b = race(
        lambda: complete_password_reset(token=token, new_password="583914"),
        lambda: complete_password_reset(token=token, new_password="749261"),
        at="accounts.services.card_credentials.change_card_password",
    )

    assert a.won and isinstance(b.error, ResetLinkInvalid)
    assert b.error.reason == "used"
    assert PasswordChange.objects.count() == 1
    card.refresh_from_db()
    assert card.credential_version == 2


def test_two_agents_starting_a_reset_of_one_card_at_once_leave_one_usable_link():
    card = CardCredentialFactory().card

    a, b = race(
        lambda: _start(Card.objects.get(pk=card.pk), _staff("first")),
        lambda: _start(Card.objects.get(pk=card.pk), _staff("second")),
        at=CARD_AUDIT,
    )

    assert a.won and b.won
    earlier, later = Reset.objects.order_by("created_at", "pk")
    assert earlier.pk == a.value.pk and earlier.cancelled_at is not None
    assert later.pk == b.value.pk and later.cancelled_at is None
    assert later.link_state == Reset.LinkState.OPEN


def test_two_password_changes_of_one_card_at_once_get_consecutive_versions():
    card = CardCredentialFactory().card

    a, b = race(
        lambda: change_card_password(
            card=card,
            new_password="583914",
            kind="transaction",
            actor=None,
            channel=Channel.MOBILE_APP,
        ),
        lambda: change_card_password(
            card=card,
            new_password="749261",
            kind="transaction",
            actor=None,
            channel=Channel.BRANCH,
        ),
        at=CREDENTIAL_CHANGE_AUDIT,
    )

    assert a.won and b.won
    assert (a.value.credential_version, b.value.credential_version) == (2, 3)
    assert sorted(e.payload["credential_version"] for e in OutboxEvent.objects.all()) == [2, 3]
    card.refresh_from_db()
    assert card.credential_version == 3
