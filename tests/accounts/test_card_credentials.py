import datetime as dt

import pytest
from django.db import transaction

from accounts.card_passwords import card_password_matches
from accounts.models import (
    AuditEvent,
    CardCredential,
    Channel,
    OutboxEvent,
    PasswordChange,
)
from accounts.services import (
    CredentialLocked,
    PasswordPolicyError,
    change_card_password,
    verify_card_password,
)
from accounts.services.card_credentials import check_password_policy
from debits.models import Mandate, MandateSync
from simulator.gateway import SimulatorGateway
from tests.factories import CardCredentialFactory, CardFactory, CustomerFactory, MandateFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "946381"


@pytest.fixture
def eager_tasks():
    """Run Celery tasks in-process, so a committed change is consumed at once."""
    from backoffice.celery import app

    previous = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = previous


def bound_mandate(card) -> Mandate:
    """An active mandate whose agreement the payment network really holds."""
    mandate = MandateFactory(loan__card=card)
    binding = SimulatorGateway().bind_agreement(
        mandate_reference=mandate.reference,
        card_reference=card.network_reference,
        account_fingerprint=mandate.settlement_account_fingerprint,
        credential_version=card.credential_version,
    )
    Mandate.objects.filter(pk=mandate.pk).update(gateway_agreement_token=binding.agreement_token)
    mandate.refresh_from_db()
    return mandate


def collect_next_instalment(mandate: Mandate, key: str):
    mandate.refresh_from_db()
    return SimulatorGateway().collect(
        idempotency_key=key,
        mandate_reference=mandate.reference,
        agreement_token=mandate.gateway_agreement_token,
        amount_minor=1028000,
    )


# --- Policy ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("12345", "six_digits"),
        ("1234567", "six_digits"),
        ("12a456", "six_digits"),
        ("１２３４５６", "six_digits"),
        ("111111", "repeated_digits"),
        ("121212", "repeated_pattern"),
        ("357357", "repeated_pattern"),
        ("123456", "sequential_digits"),
        ("654321", "sequential_digits"),
        ("890123", "sequential_digits"),
        ("900115", "birth_date"),  # YYMMDD
        ("150190", "birth_date"),  # DDMMYY
        ("011590", "birth_date"),  # MMDDYY
        ("199001", "birth_date"),  # YYYYMM
        ("011990", "birth_date"),  # MMYYYY
        ("370115", "birth_date"),  # contains MMDD
    ],
)
def test_a_password_breaking_a_rule_is_refused_saying_which_rule(password, rule):
    customer = CustomerFactory.build(birth_date=dt.date(1990, 1, 15))
    with pytest.raises(PasswordPolicyError) as refused:
        check_password_policy(password, customer=customer)
    assert refused.value.rule == rule
    assert str(refused.value)


@pytest.mark.parametrize("password", ["946381", "902716", "384917"])
def test_a_sound_password_passes_the_policy(password):
    check_password_policy(password, customer=CustomerFactory.build(birth_date=dt.date(1990, 1, 15)))


def test_a_refused_password_changes_nothing():
    card = CardFactory()
    with pytest.raises(PasswordPolicyError):
        change_card_password(
            card=card,
            new_password="111111",
            kind=CardCredential.Kind.TRANSACTION,
            actor=None,
            channel=Channel.MOBILE_APP,
        )
    card.refresh_from_db()
    assert card.credential_version == 1
    assert not PasswordChange.objects.exists()
    assert not OutboxEvent.objects.exists()


# --- Changing ----------------------------------------------------------------------


def test_a_transaction_password_change_bumps_the_version_and_records_everything_once(
    django_capture_on_commit_callbacks,
):
    card = CardFactory()
    with django_capture_on_commit_callbacks() as callbacks:
        change = change_card_password(
            card=card,
            new_password=NEW_PASSWORD,
            kind=CardCredential.Kind.TRANSACTION,
            actor=None,
            channel=Channel.MOBILE_APP,
        )
    card.refresh_from_db()
    assert card.credential_version == 2
    assert change.credential_version == 2
    credential = CardCredential.objects.get(card=card, kind=CardCredential.Kind.TRANSACTION)
    assert NEW_PASSWORD not in credential.password_hash
    assert credential.password_hash.startswith("$argon2id$")
    assert card_password_matches(credential.password_hash, NEW_PASSWORD)
    event = OutboxEvent.objects.get()
    assert event.payload == {"card_id": card.pk, "credential_version": 2}
    audit = AuditEvent.objects.get(action="card.password_changed")
    assert NEW_PASSWORD not in str(audit.summary)
    assert len(callbacks) == 2, "the re-sync and the customer's notice, once each, after commit"


def test_the_hash_is_peppered_so_the_same_password_on_two_cards_hashes_differently():
    first, second = (
        CardCredentialFactory(password=NEW_PASSWORD),
        CardCredentialFactory(password=NEW_PASSWORD),
    )
    assert first.password_hash != second.password_hash
    assert NEW_PASSWORD not in first.password_hash


def test_a_query_password_change_is_audited_but_binds_no_mandate(
    eager_tasks, django_capture_on_commit_callbacks
):
    card = CardFactory()
    mandate = bound_mandate(card)
    with django_capture_on_commit_callbacks(execute=True):
        change_card_password(
            card=card,
            new_password=NEW_PASSWORD,
            kind=CardCredential.Kind.QUERY,
            actor=None,
            channel=Channel.ATM,
        )
    card.refresh_from_db()
    mandate.refresh_from_db()
    assert card.credential_version == 1
    assert PasswordChange.objects.get().credential_version == 1
    assert AuditEvent.objects.filter(action="card.password_changed").exists()
    assert not OutboxEvent.objects.exists()
    assert not MandateSync.objects.exists()
    assert collect_next_instalment(mandate, "k-query").succeeded


def test_with_automatic_resync_off_the_next_collect_fails_as_agreement_stale(
    eager_tasks, django_capture_on_commit_callbacks, settings
):
    settings.AUTO_RESYNC_ENABLED = False
    card = CardFactory()
    mandate = bound_mandate(card)
    with django_capture_on_commit_callbacks(execute=True):
        change_card_password(
            card=card,
            new_password=NEW_PASSWORD,
            kind=CardCredential.Kind.TRANSACTION,
            actor=None,
            channel=Channel.MOBILE_APP,
        )
    mandate.refresh_from_db()
    assert mandate.synced_credential_version == 1
    assert collect_next_instalment(mandate, "k-stale").outcome == "agreement_stale"
    assert OutboxEvent.objects.get().processed_at is None, "left for the sweeper to repair"


def test_with_automatic_resync_on_the_next_collect_succeeds(
    eager_tasks, django_capture_on_commit_callbacks
):
    card = CardFactory()
    mandates = [bound_mandate(card), bound_mandate(card)]
    with django_capture_on_commit_callbacks(execute=True):
        change_card_password(
            card=card,
            new_password=NEW_PASSWORD,
            kind=CardCredential.Kind.TRANSACTION,
            actor=None,
            channel=Channel.MOBILE_APP,
        )
    for number, mandate in enumerate(mandates):
        mandate.refresh_from_db()
        assert mandate.synced_credential_version == 2
        assert collect_next_instalment(mandate, f"k-fresh-{number}").succeeded
    assert OutboxEvent.objects.get().processed_at is not None


def test_a_rolled_back_change_leaves_no_trace_and_dispatches_nothing(
    django_capture_on_commit_callbacks,
):
    card = CardFactory()
    with (
        django_capture_on_commit_callbacks() as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        change_card_password(
            card=card,
            new_password=NEW_PASSWORD,
            kind=CardCredential.Kind.TRANSACTION,
            actor=None,
            channel=Channel.MOBILE_APP,
        )
        raise RuntimeError("the caller's transaction fails after the change")
    card.refresh_from_db()
    assert card.credential_version == 1
    assert not OutboxEvent.objects.exists()
    assert callbacks == []


# --- Verifying ----------------------------------------------------------------------


def test_a_password_locks_after_five_wrong_attempts_and_each_attempt_is_audited(settings):
    settings.CARD_PASSWORD_MAX_FAILURES = 5
    credential = CardCredentialFactory(password=NEW_PASSWORD)
    card = credential.card
    results = [verify_card_password(card=card, password="000000") for _ in range(5)]
    assert [r.failed_attempts for r in results] == [1, 2, 3, 4, 5]
    assert [r.locked for r in results] == [False, False, False, False, True]
    with pytest.raises(CredentialLocked):
        verify_card_password(card=card, password=NEW_PASSWORD)
    assert AuditEvent.objects.filter(action="card.password_verification_failed").count() == 5
    assert AuditEvent.objects.filter(action="card.password_verification_refused").count() == 1


def test_a_right_password_clears_the_failure_count():
    credential = CardCredentialFactory(password=NEW_PASSWORD)
    verify_card_password(card=credential.card, password="000000")
    result = verify_card_password(card=credential.card, password=NEW_PASSWORD)
    assert result.matched and result.failed_attempts == 0


def test_a_new_password_unlocks_a_locked_credential(settings):
    settings.CARD_PASSWORD_MAX_FAILURES = 2
    credential = CardCredentialFactory(password=NEW_PASSWORD)
    for _ in range(2):
        verify_card_password(card=credential.card, password="000000")
    change_card_password(
        card=credential.card,
        new_password="902716",
        kind=CardCredential.Kind.TRANSACTION,
        actor=None,
        channel=Channel.BRANCH,
    )
    assert verify_card_password(card=credential.card, password="902716").matched
