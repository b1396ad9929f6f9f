"""Biometrics and a bound device: they bind mandates like the transaction password."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts.audit_actions import AuditAction
from accounts.models import (
    AuditEvent,
    CardAuthenticator,
    Channel,
    CredentialKind,
    OutboxEvent,
    PasswordChange,
)
from accounts.services import (
    AuthenticatorChange,
    CardPasswordError,
    change_card_authenticator,
)
from debits.models import MandateSync
from tests.conftest import sign_in_verified
from tests.debit_helpers import bind_at_network
from tests.factories import CardFactory, MandateFactory, StaffUserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager_tasks():
    from backoffice.celery import app

    previous = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = previous


def enrol(card, kind=CardAuthenticator.Kind.FINGERPRINT, reference="template-7f3a"):
    return change_card_authenticator(
        card=card,
        kind=kind,
        change=AuthenticatorChange.ENROL,
        reference=reference,
        actor=None,
        channel=Channel.MOBILE_APP,
    )


def test_each_credential_kind_says_whether_mandates_bind_to_it():
    assert CredentialKind.binds_mandates(CredentialKind.TRANSACTION)
    assert CredentialKind.binds_mandates(CredentialKind.FINGERPRINT)
    assert CredentialKind.binds_mandates(CredentialKind.FACE)
    assert CredentialKind.binds_mandates(CredentialKind.BOUND_DEVICE)
    assert not CredentialKind.binds_mandates(CredentialKind.QUERY)


@pytest.mark.parametrize("kind", CardAuthenticator.Kind.values)
def test_enrolling_a_biometric_or_device_moves_the_credential_version_and_writes_the_outbox(
    kind, django_capture_on_commit_callbacks
):
    card = CardFactory()
    with django_capture_on_commit_callbacks() as callbacks:
        change = enrol(card, kind=kind)
    card.refresh_from_db()
    assert card.credential_version == 2
    assert change.kind == kind and change.credential_version == 2
    event = OutboxEvent.objects.get()
    assert event.payload == {"card_id": card.pk, "credential_version": 2}
    audit = AuditEvent.objects.get(action=AuditAction.CARD_AUTHENTICATOR_CHANGED)
    assert audit.summary["kind"] == kind and audit.summary["change"] == "enrol"
    assert "template-7f3a" not in str(audit.summary)
    assert len(callbacks) == 1, "the re-sync is dispatched once, after commit"


def test_the_bank_keeps_only_a_fingerprint_of_the_device_reference():
    card = CardFactory()
    enrol(card, reference="device-0042-secret-id")
    stored = CardAuthenticator.objects.get(card=card)
    assert stored.state == CardAuthenticator.State.ENROLLED
    assert "device-0042" not in stored.reference_fingerprint
    assert len(stored.reference_fingerprint) == 64


def test_a_new_fingerprint_re_binds_every_mandate_of_the_card(
    eager_tasks, django_capture_on_commit_callbacks
):
    card = CardFactory()
    mandate = bind_at_network(MandateFactory(loan__card=card))
    with django_capture_on_commit_callbacks(execute=True):
        enrol(card)
    mandate.refresh_from_db()
    assert mandate.synced_credential_version == 2
    sync = MandateSync.objects.get(mandate=mandate)
    assert sync.outcome == MandateSync.Outcome.SUCCEEDED
    assert OutboxEvent.objects.get().processed_at is not None


def test_removing_a_bound_device_is_a_change_too():
    card = CardFactory()
    enrol(card, kind=CardAuthenticator.Kind.BOUND_DEVICE)
    change_card_authenticator(
        card=card,
        kind=CardAuthenticator.Kind.BOUND_DEVICE,
        change=AuthenticatorChange.REMOVE,
        actor=None,
        channel=Channel.CORE_BANKING,
    )
    card.refresh_from_db()
    assert card.credential_version == 3
    stored = CardAuthenticator.objects.get(card=card)
    assert stored.state == CardAuthenticator.State.REMOVED and stored.removed_at is not None
    assert OutboxEvent.objects.count() == 2


def test_removing_what_was_never_enrolled_is_refused_and_changes_nothing():
    card = CardFactory()
    with pytest.raises(CardPasswordError):
        change_card_authenticator(
            card=card,
            kind=CardAuthenticator.Kind.FACE,
            change=AuthenticatorChange.REMOVE,
            actor=None,
            channel=Channel.MOBILE_APP,
        )
    card.refresh_from_db()
    assert card.credential_version == 1
    assert not OutboxEvent.objects.exists()
    assert not PasswordChange.objects.exists()


def test_an_enrolment_without_the_device_reference_is_refused():
    with pytest.raises(CardPasswordError):
        enrol(CardFactory(), reference="  ")


def test_staff_see_each_credential_kind_on_the_card_page():
    card = CardFactory()
    enrol(card, kind=CardAuthenticator.Kind.FACE)
    client = sign_in_verified(Client(), StaffUserFactory(role="agent"))
    page = client.get(reverse("customers:card_detail", args=[card.pk])).content.decode()
    for label in ("Transaction password", "Query password", "Fingerprint", "Face", "Bound device"):
        assert label in page
    assert "Enrolled" in page and "Not enrolled" in page
    assert "binds no mandate" in page
