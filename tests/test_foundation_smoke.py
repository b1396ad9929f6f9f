import pytest
from django.db import IntegrityError, connection, transaction

from accounts.models import AuditEvent
from tests.factories import InstalmentFactory, MandateFactory


@pytest.mark.django_db
def test_it_serves_the_login_page(client):
    response = client.get("/login/")
    assert response.status_code == 200
    assert b"Staff sign-in" in response.content


@pytest.mark.django_db
def test_it_refuses_a_second_in_flight_attempt_for_one_instalment():
    from debits.models import DebitAttempt

    instalment = InstalmentFactory()
    mandate = MandateFactory(loan=instalment.loan)
    common = dict(
        instalment=instalment,
        mandate=mandate,
        amount=instalment.amount_due,
        presented_credential_version=1,
    )
    DebitAttempt.objects.create(attempt_number=1, idempotency_key="k1", **common)
    with pytest.raises(IntegrityError), transaction.atomic():
        DebitAttempt.objects.create(attempt_number=2, idempotency_key="k2", **common)


@pytest.mark.postgres
@pytest.mark.django_db
def test_it_rejects_an_update_of_an_audit_event_in_the_database():
    AuditEvent.objects.create(action="x", object_type="t", object_id="1")
    with pytest.raises(Exception, match="append-only"), connection.cursor() as cursor:
        cursor.execute("UPDATE accounts_auditevent SET action = 'y'")
