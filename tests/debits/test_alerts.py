"""Alerts: one open alert per problem and subject, taken on and closed by people,
closed by the system when the condition clears, mailed to operations when critical."""

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse
from django.utils import translation

from accounts.audit_actions import AuditAction
from accounts.models import AuditEvent, Card
from debits.models import Alert
from debits.services import (
    AlertError,
    acknowledge_alert,
    mark_mandate_sync_failed,
    raise_alert,
    reconcile_repeated_credential_changes,
    resolve_alert,
    resolve_cleared_alerts,
    resolve_cleared_alerts_of_kind,
)
from tests.conftest import sign_in_verified
from tests.debits.test_reconciliation import changes
from tests.factories import CardCredentialFactory, MandateFactory, StaffUserFactory

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
    # In the bank's language (Chinese); a message with no translation stays as raised.
    assert "严重" in mail.subject and "Out of sync" in mail.body and "首次发现于" in mail.body


def test_a_warning_is_not_mailed(mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        drift(MandateFactory())
    assert mailoutbox == []


# --- In each reader's language -------------------------------------------------------


def _fraud_alert() -> Alert:
    """Raised by its detector: three credential changes on one card within hours."""
    card = CardCredentialFactory().card
    changes(card, 3, within=dt.timedelta(hours=3))
    reconcile_repeated_credential_changes()
    return Alert.objects.get(kind=Alert.Kind.REPEATED_PASSWORD_CHANGES)


def test_a_detectors_alert_reads_in_each_readers_language():
    alert = _fraud_alert()
    last_four = alert.card.last_four
    assert alert.message == (
        f"3 credential changes on card •••• {last_four} within 24 h: possible fraud. "
        "The next staff reset needs a supervisor."
    )
    with translation.override("zh-hans"):
        assert alert.translated_message == (
            f"卡片 •••• {last_four} 在 24 小时内变更凭证 3 次：疑似欺诈。"
            "下一次由员工发起的重置需主管审批。"
        )
    with translation.override("en"):
        assert alert.translated_message == alert.message


def test_the_operations_dashboard_shows_an_alert_in_the_viewers_language():
    alert = _fraud_alert()
    url = reverse("operations:dashboard")
    chinese = sign_in_verified(Client(), StaffUserFactory(role="operations", language="zh-hans"))
    english = sign_in_verified(Client(), StaffUserFactory(role="operations", language="en"))

    assert "疑似欺诈" in chinese.get(url).content.decode()
    page = english.get(url).content.decode()
    assert "possible fraud" in page and "疑似欺诈" not in page
    assert alert.message in page


def test_raising_again_rewords_the_alert_in_every_language():
    mandate = MandateFactory()
    template = "%(count)s debit attempt(s) still without an outcome after %(minutes)s minutes"
    drift(mandate, message=template % {"count": 1, "minutes": 30})
    alert = raise_alert(
        kind=Alert.Kind.MANDATE_DRIFT,
        dedup_key=f"mandate_drift:mandate:{mandate.pk}",
        message=template,
        params={"count": 4, "minutes": 30},
        mandate=mandate,
    )
    assert alert.occurrences == 2
    assert alert.message == "4 debit attempt(s) still without an outcome after 30 minutes"
    assert alert.message_params == {"count": 4, "minutes": 30}


def test_an_alert_whose_wording_does_not_fit_shows_the_english_it_was_raised_with():
    mandate = MandateFactory()
    before_templates = drift(mandate)
    Alert.objects.filter(pk=before_templates.pk).update(message_template="")
    before_templates.refresh_from_db()
    broken = drift(MandateFactory())
    Alert.objects.filter(pk=broken.pk).update(message_template="%(missing)s went wrong")
    broken.refresh_from_db()

    with translation.override("zh-hans"):
        assert before_templates.translated_message == "Out of sync for 2 hours"
        assert broken.translated_message == "Out of sync for 2 hours"


def test_a_code_in_an_alert_reads_as_its_label_and_stays_a_code_in_the_english_record():
    mandate = MandateFactory()
    Card.objects.filter(pk=mandate.card_id).update(credential_version=2)
    mark_mandate_sync_failed(mandate=mandate, reason="gateway_unavailable", attempts=2)
    alert = Alert.objects.get(kind=Alert.Kind.RESYNC_FAILED)

    assert alert.message == (
        f"Mandate {mandate.reference} could not be re-synced to credential version 2 "
        "after 2 attempt(s): gateway_unavailable"
    )
    with translation.override("zh-hans"):
        assert alert.translated_message == (
            f"代扣协议 {mandate.reference} 经 2 次尝试仍无法重新同步至凭证版本 2：支付网关不可用"
        )
    with translation.override("en"):
        assert alert.translated_message.endswith("after 2 attempt(s): Gateway unavailable")
