"""The database itself guards the invariants that keep money right.

Rows are written with the ORM's plain create/update (no model validation runs)
or with raw SQL, so what refuses them is PostgreSQL, not Python.
"""

from decimal import Decimal

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from accounts.models import AuditEvent
from debits.models import DebitAttempt, Instalment, Mandate
from tests.factories import InstalmentFactory, MandateFactory

pytestmark = pytest.mark.django_db


def _attempt(instalment, mandate, number: int, state: str, key: str | None = None):
    return DebitAttempt.objects.create(
        instalment=instalment,
        mandate=mandate,
        attempt_number=number,
        idempotency_key=key or f"inst-{instalment.pk}-attempt-{number}",
        amount=instalment.amount_due,
        presented_credential_version=mandate.synced_credential_version,
        state=state,
    )


@pytest.fixture
def instalment_and_mandate():
    instalment = InstalmentFactory()
    return instalment, MandateFactory(loan=instalment.loan)


@pytest.mark.postgres
def test_the_database_refuses_a_second_succeeded_attempt_for_one_instalment(
    instalment_and_mandate,
):
    instalment, mandate = instalment_and_mandate
    _attempt(instalment, mandate, 1, DebitAttempt.State.SUCCEEDED)
    with (
        pytest.raises(IntegrityError, match="one_succeeded_attempt_per_instalment"),
        transaction.atomic(),
    ):
        _attempt(instalment, mandate, 2, DebitAttempt.State.SUCCEEDED)


@pytest.mark.postgres
def test_the_database_refuses_to_mark_a_failed_attempt_succeeded_beside_a_success(
    instalment_and_mandate,
):
    instalment, mandate = instalment_and_mandate
    _attempt(instalment, mandate, 1, DebitAttempt.State.SUCCEEDED)
    failed = _attempt(instalment, mandate, 2, DebitAttempt.State.FAILED)
    with pytest.raises(IntegrityError), transaction.atomic():
        DebitAttempt.objects.filter(pk=failed.pk).update(state=DebitAttempt.State.SUCCEEDED)


@pytest.mark.postgres
@pytest.mark.parametrize("first_state", ["created", "submitted", "unknown"])
def test_the_database_refuses_a_second_in_flight_attempt(instalment_and_mandate, first_state):
    instalment, mandate = instalment_and_mandate
    _attempt(instalment, mandate, 1, first_state)
    with (
        pytest.raises(IntegrityError, match="one_in_flight_attempt_per_instalment"),
        transaction.atomic(),
    ):
        _attempt(instalment, mandate, 2, DebitAttempt.State.CREATED)


@pytest.mark.postgres
def test_a_new_attempt_is_allowed_once_the_last_one_failed(instalment_and_mandate):
    instalment, mandate = instalment_and_mandate
    _attempt(instalment, mandate, 1, DebitAttempt.State.FAILED)
    _attempt(instalment, mandate, 2, DebitAttempt.State.CREATED)
    assert instalment.attempts.count() == 2


@pytest.mark.postgres
def test_the_database_refuses_a_duplicate_idempotency_key():
    first, second = InstalmentFactory(), InstalmentFactory()
    _attempt(first, MandateFactory(loan=first.loan), 1, "failed", key="same-key")
    with pytest.raises(IntegrityError), transaction.atomic():
        _attempt(second, MandateFactory(loan=second.loan), 1, "failed", key="same-key")


@pytest.mark.postgres
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE accounts_auditevent SET action = 'tampered'",
        "UPDATE accounts_auditevent SET summary = '{}'::jsonb, actor_id = NULL",
        "DELETE FROM accounts_auditevent",
    ],
)
def test_the_database_refuses_to_rewrite_or_erase_the_audit_trail(statement):
    event = AuditEvent.objects.create(
        action="card.password_reset", object_type="accounts.card", object_id="1"
    )
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)
    assert AuditEvent.objects.get(pk=event.pk).action == "card.password_reset"


@pytest.mark.postgres
@pytest.mark.parametrize("second_state", ["pending", "active", "suspended"])
def test_the_database_refuses_two_live_mandates_for_one_loan(second_state):
    mandate = MandateFactory(state=Mandate.State.ACTIVE)
    with pytest.raises(IntegrityError, match="one_live_mandate_per_loan"), transaction.atomic():
        MandateFactory(loan=mandate.loan, state=second_state)


@pytest.mark.postgres
def test_a_replacement_mandate_is_allowed_once_the_old_one_is_cancelled():
    old = MandateFactory(state=Mandate.State.CANCELLED)
    MandateFactory(loan=old.loan, state=Mandate.State.ACTIVE)
    assert old.loan.mandates.count() == 2


@pytest.mark.postgres
def test_the_database_refuses_an_instalment_overpayment():
    instalment = InstalmentFactory()
    with pytest.raises(IntegrityError, match="instalment_paid_within_due"), transaction.atomic():
        Instalment.objects.filter(pk=instalment.pk).update(
            amount_paid=instalment.amount_due + Decimal("0.01")
        )


@pytest.mark.postgres
def test_the_database_refuses_an_instalment_marked_paid_but_not_paid_in_full():
    instalment = InstalmentFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Instalment.objects.filter(pk=instalment.pk).update(
            state=Instalment.State.PAID, amount_paid=instalment.amount_due - Decimal("0.01")
        )


@pytest.mark.postgres
def test_the_database_refuses_an_instalment_whose_amount_is_not_its_parts():
    instalment = InstalmentFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Instalment.objects.filter(pk=instalment.pk).update(
            amount_due=instalment.amount_due + Decimal("0.01")
        )


def test_an_instalment_whose_amount_is_its_parts_to_the_cent_is_accepted_on_any_database():
    # 9800.10 + 480.20 is not 10280.30 in binary floating point, as SQLite adds.
    instalment = InstalmentFactory(
        principal_part=Decimal("9800.10"), interest_part=Decimal("480.20")
    )
    assert Instalment.objects.get(pk=instalment.pk).amount_due == Decimal("10280.30")
