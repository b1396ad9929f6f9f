"""Reconciliation detectors on crafted data: each finds the problem, repairs what it
can, raises one deduplicated alert for what it cannot, and resolves it when the
condition clears."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.audit_actions import AuditAction
from accounts.models import AuditEvent, Card, OutboxEvent, PasswordChange, PasswordResetRequest
from accounts.services import ResetNotAllowed, reset_needs_supervisor, start_password_reset
from debits.models import Alert, DebitAttempt, Instalment, MandateSync
from debits.services import (
    reconcile_failure_rates,
    reconcile_outbox,
    reconcile_repeated_credential_changes,
    reconcile_stale_mandates,
)
from simulator.faults import script_fault
from tests.debit_helpers import bind_at_network
from tests.factories import (
    CardCredentialFactory,
    LoanFactory,
    MandateFactory,
    StaffUserFactory,
)

pytestmark = pytest.mark.django_db


def password_changed(card, *, ago: dt.timedelta, version: int | None = None) -> None:
    """The card's credential moved on ``ago`` (another system's change: no re-sync ran)."""
    card.refresh_from_db()
    version = version or card.credential_version + 1
    Card.objects.filter(pk=card.pk).update(
        credential_version=version, credential_changed_at=timezone.now() - ago
    )


def open_alerts(kind):
    return Alert.objects.filter(kind=kind, resolved_at__isnull=True)


# --- Stale mandates ------------------------------------------------------------------


def test_a_mandate_left_behind_its_card_is_re_synced_by_reconciliation():
    mandate = bind_at_network(MandateFactory())
    password_changed(mandate.card, ago=dt.timedelta(minutes=20))
    report = reconcile_stale_mandates()
    mandate.refresh_from_db()
    assert (report.found, report.repaired) == (1, 1)
    assert mandate.synced_credential_version == 2
    assert MandateSync.objects.get().trigger == MandateSync.Trigger.RECONCILIATION
    assert not open_alerts(Alert.Kind.MANDATE_DRIFT).exists()


def test_a_change_still_within_its_grace_period_is_left_to_the_real_time_path():
    mandate = bind_at_network(MandateFactory())
    password_changed(mandate.card, ago=dt.timedelta(seconds=30))
    assert reconcile_stale_mandates().found == 0
    assert not MandateSync.objects.exists()


def test_a_dry_run_counts_stale_mandates_and_changes_nothing():
    mandate = bind_at_network(MandateFactory())
    password_changed(mandate.card, ago=dt.timedelta(hours=2))
    report = reconcile_stale_mandates(dry_run=True)
    assert report.found == 1 and report.repaired == 0
    assert not MandateSync.objects.exists() and not Alert.objects.exists()


def test_a_mandate_the_network_will_not_re_bind_raises_one_alert_until_it_is_repaired():
    mandate = bind_at_network(MandateFactory())
    password_changed(mandate.card, ago=dt.timedelta(hours=2))
    script_fault(mandate_reference=mandate.reference, outcome="bind_unavailable", times=2)
    reconcile_stale_mandates()
    reconcile_stale_mandates()
    alert = open_alerts(Alert.Kind.MANDATE_DRIFT).get()
    assert alert.occurrences == 2 and alert.severity == Alert.Severity.CRITICAL
    assert "1 active mandate" in alert.message
    report = reconcile_stale_mandates()  # the network binds again
    assert report.repaired == 1
    alert.refresh_from_db()
    assert alert.resolved_at is not None and alert.resolved_by is None


def test_the_management_command_runs_one_detector_or_all(capsys):
    mandate = bind_at_network(MandateFactory())
    password_changed(mandate.card, ago=dt.timedelta(hours=2))
    call_command("reconcile", "--only", "stale_mandates", "--dry-run")
    assert "stale_mandates" in capsys.readouterr().out
    mandate.refresh_from_db()
    assert mandate.synced_credential_version == 1
    call_command("reconcile")
    out = capsys.readouterr().out
    for name in ("stale_mandates", "outbox", "failure_rates", "credential_changes"):
        assert name in out
    mandate.refresh_from_db()
    assert mandate.synced_credential_version == 2


# --- Stuck outbox events -------------------------------------------------------------


def stuck_event(card, *, ago: dt.timedelta) -> OutboxEvent:
    card.refresh_from_db()
    return OutboxEvent.objects.create(
        event_type=OutboxEvent.Type.CREDENTIAL_CHANGED,
        payload={"card_id": card.pk, "credential_version": card.credential_version},
        created_at=timezone.now() - ago,
    )


def test_a_stuck_event_whose_mandates_are_all_in_sync_is_closed():
    mandate = bind_at_network(MandateFactory())
    event = stuck_event(mandate.card, ago=dt.timedelta(minutes=30))
    report = reconcile_outbox()
    event.refresh_from_db()
    assert (report.found, report.repaired) == (1, 1)
    assert event.processed_at is not None
    assert AuditEvent.objects.filter(action=AuditAction.OUTBOX_EVENT_RECONCILED).exists()


def test_an_event_that_keeps_failing_raises_one_alert_resolved_once_it_is_processed(settings):
    # Re-sync switched off: the re-dispatch cannot help, the event stays stuck.
    settings.AUTO_RESYNC_ENABLED = False
    mandate = bind_at_network(MandateFactory())
    password_changed(mandate.card, ago=dt.timedelta(minutes=30))
    event = stuck_event(mandate.card, ago=dt.timedelta(minutes=30))
    reconcile_outbox()
    reconcile_outbox()
    alert = open_alerts(Alert.Kind.OUTBOX_STUCK).get()
    assert alert.occurrences == 2 and f"#{event.pk}" in alert.message
    reconcile_stale_mandates()  # the mandate is re-bound another way
    report = reconcile_outbox()
    event.refresh_from_db()
    alert.refresh_from_db()
    assert event.processed_at is not None
    assert report.alerts_resolved == 1 and alert.resolved_at is not None


def test_a_young_event_is_left_to_the_sweeper():
    mandate = bind_at_network(MandateFactory())
    stuck_event(mandate.card, ago=dt.timedelta(minutes=2))
    assert reconcile_outbox().found == 0


# --- Failure rates -------------------------------------------------------------------


def attempts(count: int, *, failed: int, code: str, day: dt.date) -> None:
    """``count`` settled attempts on ``day``, ``failed`` of them failing with ``code``."""
    loan = LoanFactory()
    mandate = MandateFactory(loan=loan)
    instalments = Instalment.objects.bulk_create(
        Instalment(
            loan=loan, sequence=i + 1, due_date=day, principal_part=Decimal("90"),
            interest_part=Decimal("10"), amount_due=Decimal("100"), state="due",
        )
        for i in range(count)
    )  # fmt: skip
    # Today's just now (the detector looks at today so far), earlier days at this hour.
    at = timezone.now() - dt.timedelta(days=(timezone.localdate() - day).days, seconds=1)
    DebitAttempt.objects.bulk_create(
        DebitAttempt(
            instalment=instalment, mandate=mandate, attempt_number=1,
            idempotency_key=f"inst-{instalment.pk}-1", amount=Decimal("100"),
            presented_credential_version=1, state="failed" if i < failed else "succeeded",
            failure_code=code if i < failed else "", created_at=at,
        )
        for i, instalment in enumerate(instalments)
    )  # fmt: skip


def baseline_days(days: int, *, per_day: int, failed: int, code: str) -> None:
    today = timezone.localdate()
    for back in range(1, days + 1):
        attempts(per_day, failed=failed, code=code, day=today - dt.timedelta(days=back))


def test_a_jump_in_one_failure_code_raises_one_alert_and_clears_when_the_rate_is_normal():
    baseline_days(5, per_day=300, failed=15, code="agreement_stale")  # 5 %
    attempts(400, failed=80, code="agreement_stale", day=timezone.localdate())  # 20 %
    report = reconcile_failure_rates()
    reconcile_failure_rates()
    alert = open_alerts(Alert.Kind.FAILURE_RATE).get()
    assert report.found == 1 and alert.occurrences == 2
    assert "agreement_stale" in alert.message and "80 of 400" in alert.message
    # Later the same day: thousands more debits at the usual rate dilute the jump.
    attempts(3000, failed=60, code="agreement_stale", day=timezone.localdate())  # 4 % in all
    report = reconcile_failure_rates()
    alert.refresh_from_db()
    assert report.alerts_resolved == 1 and alert.resolved_at is not None


def test_a_quiet_day_with_a_few_failures_raises_nothing():
    baseline_days(5, per_day=300, failed=3, code="insufficient_funds")
    attempts(12, failed=5, code="insufficient_funds", day=timezone.localdate())
    assert reconcile_failure_rates().found == 0
    assert not Alert.objects.exists()


# --- Repeated credential changes -----------------------------------------------------


def changes(card, count: int, *, within: dt.timedelta) -> None:
    now = timezone.now()
    for i in range(count):
        PasswordChange.objects.create(
            card=card,
            kind="transaction",
            channel="mobile_app",
            credential_version=i + 2,
            changed_at=now - within * (i / max(count, 1)),
        )


def reset(card, actor, approved_by=None):
    return start_password_reset(
        card=card,
        kind="transaction",
        verification_method=PasswordResetRequest.VerificationMethod.BRANCH_ID_CHECK,
        verification_reference="ID 0042",
        delivery_channel=PasswordResetRequest.DeliveryChannel.SMS,
        actor=actor,
        approved_by=approved_by,
    )


def test_repeated_credential_changes_flag_the_card_until_a_supervisor_reviews_it():
    card = CardCredentialFactory().card
    changes(card, 3, within=dt.timedelta(hours=5))
    report = reconcile_repeated_credential_changes()
    reconcile_repeated_credential_changes()
    card.refresh_from_db()
    assert report.found == 1 and report.repaired == 1
    assert card.credential_changes_flagged_at is not None
    assert reset_needs_supervisor(card=card, kind="transaction")
    alert = open_alerts(Alert.Kind.REPEATED_PASSWORD_CHANGES).get()
    assert alert.card == card and alert.occurrences == 2
    with pytest.raises(ResetNotAllowed):
        reset(card, StaffUserFactory(role="agent"))
    supervisor = StaffUserFactory(role="supervisor")
    reset(card, supervisor, approved_by=supervisor)
    card.refresh_from_db()
    assert card.credential_changes_flagged_at is None
    report = reconcile_repeated_credential_changes()
    alert.refresh_from_db()
    assert report.found == 0, "changes the supervisor reviewed do not count again"
    assert alert.resolved_at is not None


def test_two_changes_in_a_day_or_three_spread_over_a_week_are_not_a_signal():
    spaced, few = CardCredentialFactory().card, CardCredentialFactory().card
    changes(spaced, 3, within=dt.timedelta(days=6))
    changes(few, 2, within=dt.timedelta(hours=1))
    assert reconcile_repeated_credential_changes().found == 0
