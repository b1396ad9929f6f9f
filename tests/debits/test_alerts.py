"""Alerts: one open alert per problem and subject, taken on and closed by people,
closed by the system when the condition clears, mailed to operations when critical."""

import pytest
from django.db import IntegrityError, transaction

from accounts.audit_actions import AuditAction
from accounts.models import AuditEvent
from debits.models import Alert
from debits.services import (
    AlertError,
    acknowledge_alert,
    raise_alert,
    resolve_alert,
    resolve_cleared_alerts,
    resolve_cleared_alerts_of_kind,
)
from tests.factories import MandateFactory, StaffUserFactory

pytestmark = pytest.mark.django_db


def drift(mandate, severity=Alert.Severity.WARNING, message="Out of sync for 2 hours"):
    return raise_alert(
        kind=Alert.Kind.MANDATE_DRIFT,
        dedup_key=f"mandate_drift:mandate:{mandate.pk}",
        message=message,
        severity=severity,
        mandate=mandate,
    )


def test_finding_the_same_problem_again_counts_on_the_one_open_alert():
    mandate = MandateFactory()
    first = drift(mandate)
    again = drift(mandate, message="Out of sync for 3 hours")
    assert again.pk == first.pk
    assert again.occurrences == 2
    assert again.last_seen_at >= again.raised_at
    assert again.message == "Out of sync for 3 hours"
    assert Alert.objects.count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.ALERT_RAISED).count() == 1


def test_the_database_refuses_a_second_open_alert_for_one_condition():
    mandate = MandateFactory()
    alert = drift(mandate)
    with pytest.raises(IntegrityError), transaction.atomic():
        Alert.objects.create(kind=alert.kind, dedup_key=alert.dedup_key, message="twin")


def test_a_person_acknowledges_an_alert_once_and_it_is_audited():
    mandate, person = MandateFactory(), StaffUserFactory(role="operations")
    alert = drift(mandate)
    acknowledge_alert(alert=alert, actor=person)
    acknowledge_alert(alert=alert, actor=StaffUserFactory(role="supervisor"))
    alert.refresh_from_db()
    assert alert.acknowledged_by == person and alert.resolved_at is None
    event = AuditEvent.objects.get(action=AuditAction.ALERT_ACKNOWLEDGED)
    assert event.actor == person


def test_only_staff_who_handle_alerts_may_acknowledge_or_resolve():
    alert = drift(MandateFactory())
    agent = StaffUserFactory(role="agent")
    with pytest.raises(AlertError):
        acknowledge_alert(alert=alert, actor=agent)
    with pytest.raises(AlertError):
        resolve_alert(alert=alert, actor=agent, note="Looked fine")


def test_a_person_resolves_an_alert_only_with_a_note():
    alert = drift(MandateFactory())
    person = StaffUserFactory(role="supervisor")
    with pytest.raises(AlertError):
        resolve_alert(alert=alert, actor=person, note="   ")
    resolve_alert(alert=alert, actor=person, note="Agreement re-bound by the network desk")
    alert.refresh_from_db()
    assert alert.resolved_by == person
    assert alert.resolution_note == "Agreement re-bound by the network desk"
    event = AuditEvent.objects.get(action=AuditAction.ALERT_RESOLVED)
    assert event.actor == person and event.reason.startswith("Agreement re-bound")
    with pytest.raises(AlertError):
        resolve_alert(alert=alert, actor=person, note="twice")


def test_after_resolution_the_same_problem_opens_a_new_alert():
    mandate = MandateFactory()
    first = drift(mandate)
    resolve_cleared_alerts(dedup_keys=[first.dedup_key], note="Back in sync")
    second = drift(mandate)
    assert second.pk != first.pk and second.occurrences == 1


def test_the_system_resolves_alerts_whose_condition_cleared_and_keeps_the_rest():
    still, cleared = MandateFactory(), MandateFactory()
    kept, gone = drift(still), drift(cleared)
    closed = resolve_cleared_alerts_of_kind(
        kind=Alert.Kind.MANDATE_DRIFT, still_found=[kept.dedup_key], note="Back in sync"
    )
    assert closed == 1
    kept.refresh_from_db()
    gone.refresh_from_db()
    assert kept.resolved_at is None
    assert gone.resolved_at is not None and gone.resolved_by is None
    event = AuditEvent.objects.get(action=AuditAction.ALERT_RESOLVED)
    assert event.actor is None and event.summary["by"] == "system"


def test_operations_get_one_mail_for_a_new_critical_alert(
    mailoutbox, settings, django_capture_on_commit_callbacks
):
    settings.OPERATIONS_ALERT_EMAILS = ["ops-duty@bank.example"]
    mandate = MandateFactory()
    with django_capture_on_commit_callbacks(execute=True):
        drift(mandate, severity=Alert.Severity.CRITICAL)
        drift(mandate, severity=Alert.Severity.CRITICAL)
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["ops-duty@bank.example"]
    assert "Critical" in mail.subject and "Out of sync" in mail.body


def test_a_warning_is_not_mailed(mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        drift(MandateFactory())
    assert mailoutbox == []
