"""The audit trail speaks one vocabulary: every event's action is an ``AuditAction``."""

import pytest

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
