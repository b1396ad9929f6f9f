"""The audit trail: one vocabulary of actions, and append-only in the model and the database."""

import pytest
from django.db import connection, transaction

from accounts.audit import record_audit_event
from accounts.audit_actions import AuditAction
from accounts.models import AuditEvent
from tests.factories import StaffUserFactory

pytestmark = pytest.mark.django_db


def test_an_action_outside_the_vocabulary_is_refused_and_nothing_is_written():
    with pytest.raises(ValueError):
        record_audit_event(actor=None, action="card.password_guessed")
    assert not AuditEvent.objects.exists()


def test_an_event_records_the_action_and_the_actor_and_reads_in_words():
    staff = StaffUserFactory()
    event = record_audit_event(actor=staff, action=AuditAction.COLLECTION_PAUSED)
    event.refresh_from_db()
    assert (event.action, event.actor) == ("collection.paused", staff)
    assert event.action_label == "Collection paused"


def test_every_action_has_a_distinct_label():
    labels = [str(action.label) for action in AuditAction]
    assert len(set(labels)) == len(labels)


def test_the_model_refuses_to_change_or_delete_an_audit_event_on_any_database():
    event = record_audit_event(actor=None, action=AuditAction.CARD_PASSWORD_CHANGED)
    event.action = "tampered"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).update(action="tampered")
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get(pk=event.pk).action == AuditAction.CARD_PASSWORD_CHANGED


@pytest.mark.postgres
def test_postgresql_refuses_update_and_delete_of_an_audit_event_whatever_the_client():
    record_audit_event(actor=None, action=AuditAction.CARD_PASSWORD_CHANGED)
    for statement in (
        "UPDATE accounts_auditevent SET reason = 'x'",
        "DELETE FROM accounts_auditevent",
    ):
        with (
            pytest.raises(Exception, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement)
    assert AuditEvent.objects.count() == 1
