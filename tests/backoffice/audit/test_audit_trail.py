"""The audit trail: every service writes one, the table is append-only, auditors read it.

``test_every_public_service_is_audited_or_declared_read_only`` introspects the
import surface of ``accounts.services`` and ``debits.services``: each public
function must either appear in ``AUDITED`` (and is then called, and a new
``AuditEvent`` must appear) or in ``NOT_AUDITED`` with the reason. A service
added without either fails the suite.
"""

from __future__ import annotations

import csv
import datetime as dt
import inspect
import io
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

import accounts.services
import debits.services
from accounts.audit_actions import AuditAction
from accounts.models import AuditEvent, CardCredential, Channel, OutboxEvent
from backoffice.ui.csv_export import csv_safe
from tests.conftest import sign_in_verified
from tests.factories import (
    CardCredentialFactory,
    CustomerFactory,
    InstalmentFactory,
    MandateFactory,
    StaffUserFactory,
)

pytestmark = pytest.mark.django_db

SERVICE_PACKAGES = (accounts.services, debits.services)


def public_services() -> dict[str, Callable]:
    found = {}
    for package in SERVICE_PACKAGES:
        names = getattr(package, "__all__", None) or [n for n in dir(package) if n[0] != "_"]
        for name in names:
            obj = getattr(package, name)
            if inspect.isfunction(obj):
                found[f"{package.__name__}.{name}"] = obj
    return found


@dataclass
class Book:
    """A small book of business and staff to act on it."""

    customer: object
    card: object
    credential: object
    mandate: object
    instalment: object
    agent: object
    supervisor: object
    operations: object
    complaints: object
    admin: object
    target_staff: object


@pytest.fixture
def book(db) -> Book:
    from tests.debit_helpers import bind_at_network

    instalment = InstalmentFactory(due_date=timezone.localdate())
    mandate = bind_at_network(MandateFactory(loan=instalment.loan))
    credential = CardCredentialFactory(card=mandate.card)
    return Book(
        customer=mandate.card.customer,
        card=mandate.card,
        credential=credential,
        mandate=mandate,
        instalment=instalment,
        agent=StaffUserFactory(role="agent"),
        supervisor=StaffUserFactory(role="supervisor"),
        operations=StaffUserFactory(role="operations"),
        complaints=StaffUserFactory(role="complaints officer"),
        admin=StaffUserFactory(role="admin"),
        target_staff=StaffUserFactory(role="agent"),
    )


def _start_reset(b: Book):
    from accounts.models import PasswordResetRequest

    return accounts.services.start_password_reset(
        card=b.card,
        kind=CardCredential.Kind.TRANSACTION,
        verification_method=PasswordResetRequest.VerificationMethod.BRANCH_ID_CHECK,
        verification_reference="ID checked at branch 0042",
        delivery_channel=PasswordResetRequest.DeliveryChannel.SMS,
        actor=b.agent,
    )


def _complete_reset(b: Book):
    from accounts.models import PasswordResetRequest

    reset = _start_reset(b)
    token = "test-token-for-the-audit-test"
    from accounts.services.card_credentials import reset_token_fingerprint

    PasswordResetRequest.objects.filter(pk=reset.pk).update(
        token_fingerprint=reset_token_fingerprint(token)
    )
    before = AuditEvent.objects.count()
    accounts.services.complete_password_reset(token=token, new_password="739164")
    return before


def _card_password_changed_elsewhere(b: Book):
    from django.db.models import F

    from accounts.models import Card

    Card.objects.filter(pk=b.card.pk).update(credential_version=F("credential_version") + 1)


def _pending_sync(b: Book):
    from debits.models import MandateSync

    MandateSync.objects.create(
        mandate=b.mandate,
        target_credential_version=b.card.credential_version,
        trigger=MandateSync.Trigger.MANUAL,
        requested_at=timezone.now() - dt.timedelta(hours=1),
    )


def _late_fee(b: Book):
    from debits.models import LateFee

    return LateFee.objects.create(instalment=b.instalment, amount=Decimal("10.00"))


def _run(b: Book):
    return debits.services.run_debit_job(on_date=timezone.localdate(), actor=b.operations)


def _failed_attempt(b: Book):
    from debits.models import DebitAttempt

    return DebitAttempt.objects.create(
        instalment=b.instalment,
        mandate=b.mandate,
        attempt_number=1,
        idempotency_key=f"audit-test-{b.instalment.pk}",
        amount=b.instalment.amount_due,
        presented_credential_version=b.card.credential_version,
        state=DebitAttempt.State.FAILED,
        failure_code="insufficient_funds",
        finished_at=timezone.now(),
    )


def _unknown_attempt(b: Book):
    from debits.models import DebitAttempt

    return DebitAttempt.objects.create(
        instalment=b.instalment,
        mandate=b.mandate,
        attempt_number=1,
        idempotency_key=f"audit-unknown-{b.instalment.pk}",
        amount=b.instalment.amount_due,
        presented_credential_version=b.card.credential_version,
        state=DebitAttempt.State.UNKNOWN,
        submitted_at=timezone.now() - dt.timedelta(hours=1),
    )


def _outbox_event(b: Book):
    accounts.services.change_card_password(
        card=b.card,
        new_password="739164",
        kind=CardCredential.Kind.TRANSACTION,
        actor=b.agent,
        channel=Channel.MOBILE_APP,
    )
    return OutboxEvent.objects.latest("pk")


def _open_loan(b: Book):
    return debits.services.open_loan(
        card=b.card,
        reference="LN-AUDIT",
        principal=Decimal("60000.00"),
        annual_rate=Decimal("0.05"),
        term_months=12,
        start_date=timezone.localdate(),
        actor=b.operations,
    )


def _pause(b: Book):
    from debits.models import CollectionPause

    return debits.services.pause_collection(
        scope=CollectionPause.Scope.CARD,
        card=b.card,
        reason="Complaint under review",
        actor=b.supervisor,
    )


# Each is called on a fresh book; a new AuditEvent must appear. A callable may
# return the audit count to compare with (when it had to prepare by calling
# another audited service first).
AUDITED: dict[str, Callable[[Book], object]] = {
    # --- staff security
    "accounts.services.start_totp_enrolment": lambda b: accounts.services.start_totp_enrolment(
        staff=b.target_staff
    ),
    "accounts.services.confirm_totp_enrolment": lambda b: _confirm_with_wrong_code(b),
    "accounts.services.verify_staff_second_factor": lambda b: (
        accounts.services.verify_staff_second_factor(staff=b.target_staff, token="000000")
    ),
    "accounts.services.reset_staff_second_factor": lambda b: (
        accounts.services.reset_staff_second_factor(
            staff=b.target_staff, actor=b.admin, reason="Lost phone, ticket 4711"
        )
    ),
    "accounts.services.unlock_staff": lambda b: accounts.services.unlock_staff(
        username=b.target_staff.username, actor=b.supervisor, reason="Identity checked by phone"
    ),
    "accounts.services.change_staff_password": lambda b: accounts.services.change_staff_password(
        staff=b.target_staff, actor=b.target_staff, new_password="a much better passphrase 7"
    ),
    "accounts.services.set_staff_active": lambda b: accounts.services.set_staff_active(
        staff=b.target_staff, actor=b.admin, active=False, reason="Left the bank"
    ),
    "accounts.services.reveal_customer_phone": lambda b: accounts.services.reveal_customer_phone(
        customer=b.customer, actor=b.supervisor, reason="Customer asked for a call-back"
    ),
    "accounts.services.set_staff_language": lambda b: accounts.services.set_staff_language(
        staff=b.target_staff, language="zh-hans"
    ),
    "accounts.services.provision_staff_second_factor": lambda b: (
        accounts.services.provision_staff_second_factor(staff=b.target_staff, actor=b.admin)
    ),
    # --- staff access under maker-checker, sign-in history
    "accounts.services.request_staff_change": lambda b: _ask_for_grant(b),
    "accounts.services.approve_staff_change": lambda b: _decide_grant(b, approve=True),
    "accounts.services.reject_staff_change": lambda b: _decide_grant(b, approve=False),
    "accounts.services.complete_staff_password_reset": lambda b: _complete_staff_reset(b),
    "accounts.services.clear_sign_in_history": lambda b: accounts.services.clear_sign_in_history(
        actor=b.admin, older_than_days=365, reason="Retention period of one year passed"
    ),
    "accounts.services.rotate_second_factor_keys": lambda b: (
        accounts.services.rotate_second_factor_keys(actor=b.admin)
    ),
    # --- card credentials
    "accounts.services.change_card_password": lambda b: accounts.services.change_card_password(
        card=b.card,
        new_password="739164",
        kind=CardCredential.Kind.TRANSACTION,
        actor=b.agent,
        channel=Channel.MOBILE_APP,
    ),
    "accounts.services.verify_card_password": lambda b: accounts.services.verify_card_password(
        card=b.card, password="000000"
    ),
    "accounts.services.change_card_authenticator": lambda b: (
        accounts.services.change_card_authenticator(
            card=b.card,
            kind="fingerprint",
            change="enrol",
            reference="template-0001",
            actor=None,
            channel=Channel.MOBILE_APP,
        )
    ),
    "accounts.services.flag_repeated_credential_changes": lambda b: (
        accounts.services.flag_repeated_credential_changes(card=b.card, changes=4, window_hours=24)
    ),
    "accounts.services.start_password_reset": _start_reset,
    "accounts.services.complete_password_reset": _complete_reset,
    # --- debits
    "debits.services.raise_alert": lambda b: debits.services.raise_alert(
        kind="mandate_out_of_sync", dedup_key="audit-test", message="Out of sync", mandate=b.mandate
    ),
    "debits.services.acknowledge_alert": lambda b: debits.services.acknowledge_alert(
        alert=_open_alert(b), actor=b.operations
    ),
    "debits.services.resolve_alert": lambda b: debits.services.resolve_alert(
        alert=_open_alert(b), actor=b.operations, note="Gateway confirmed the agreement"
    ),
    "debits.services.resolve_cleared_alerts": lambda b: (
        _open_alert(b),
        debits.services.resolve_cleared_alerts(dedup_keys=["audit-test"], note="Cleared"),
    ),
    "debits.services.resolve_cleared_alerts_of_kind": lambda b: (
        _open_alert(b),
        debits.services.resolve_cleared_alerts_of_kind(
            kind="mandate_drift", still_found=[], note="Cleared"
        ),
    ),
    "debits.services.reconcile_stale_mandates": lambda b: (
        _card_password_changed_elsewhere(b),
        debits.services.reconcile_stale_mandates(older_than_seconds=0),
    ),
    "debits.services.reconcile_agreements": lambda b: debits.services.reconcile_agreements(),
    "debits.services.reconcile_outbox": lambda b: (
        _stuck_outbox_event(b),
        debits.services.reconcile_outbox(),
    ),
    "debits.services.reconcile_repeated_credential_changes": lambda b: (
        _repeated_changes(b),
        debits.services.reconcile_repeated_credential_changes(),
    ),
    "debits.services.reconcile_unresolved_attempts": lambda b: (
        _unknown_attempt(b),
        debits.services.reconcile_unresolved_attempts(now=timezone.now() + dt.timedelta(days=1)),
    ),
    "debits.services.reconcile_stuck_runs": lambda b: (
        _stuck_run(b, started=timezone.now() - dt.timedelta(hours=2)),
        debits.services.reconcile_stuck_runs(),
    ),
    "debits.services.rerun_stuck_debit_run": lambda b: debits.services.rerun_stuck_debit_run(
        run=_stuck_run(b, started=timezone.now()), actor=b.operations, reason="Broker restarted"
    ),
    "debits.services.request_resync_of_stale_mandates": lambda b: (
        debits.services.request_resync_of_stale_mandates(
            actor=b.operations, reason="Gateway back after the outage"
        )
    ),
    "debits.services.resync_mandate": lambda b: debits.services.resync_mandate(
        mandate=b.mandate, actor=b.operations
    ),
    "debits.services.mark_mandate_sync_failed": lambda b: (
        _card_password_changed_elsewhere(b),
        debits.services.mark_mandate_sync_failed(
            mandate=b.mandate, reason="Gateway refused the new agreement"
        ),
    ),
    "debits.services.run_debit_job": _run,
    "debits.services.close_interrupted_syncs": lambda b: (
        _pending_sync(b),
        debits.services.close_interrupted_syncs(older_than_seconds=60),
    ),
    "debits.services.collect_debit_chunk": lambda b: debits.services.collect_debit_chunk(
        run_id=_run(b).pk, instalment_ids=[b.instalment.pk]
    ),
    "debits.services.retry_debit_attempts": lambda b: debits.services.retry_debit_attempts(
        attempts=[_failed_attempt(b)], actor=b.operations
    ),
    "debits.services.settle_unresolved_attempts": lambda b: (
        _unknown_attempt(b),
        debits.services.settle_unresolved_attempts(now=timezone.now() + dt.timedelta(days=1)),
    ),
    "debits.services.pause_collection": _pause,
    "debits.services.resume_collection": lambda b: (
        _pause(b),
        debits.services.resume_collection(
            scope="card", card=b.card, reason="Complaint resolved", actor=b.supervisor
        ),
    ),
    "debits.services.accrue_late_fees": lambda b: debits.services.accrue_late_fees(
        on_date=timezone.localdate()
    ),
    "debits.services.waive_late_fee": lambda b: debits.services.waive_late_fee(
        fee=_late_fee(b), reason="Bank-side failure after a password change", actor=b.supervisor
    ),
    "debits.services.approve_fee_waiver": lambda b: _approve_waiver(b),
    "debits.services.apply_credential_change": lambda b: debits.services.apply_credential_change(
        outbox_event_id=_outbox_event(b).pk
    ),
    "debits.services.open_loan": lambda b: _open_loan(b),
    "debits.services.create_mandate": lambda b: debits.services.create_mandate(
        loan=_open_loan(b),
        reference="MD-AUDIT",
        settlement_account="6217000012345678903",
        valid_from=timezone.localdate(),
        valid_until=timezone.localdate() + dt.timedelta(days=400),
        per_debit_cap=Decimal("10000.00"),
        actor=b.operations,
    ),
    "debits.services.suspend_mandate": lambda b: debits.services.suspend_mandate(
        mandate=b.mandate, reason="Customer disputes the amount", actor=b.operations
    ),
    "debits.services.activate_mandate": lambda b: (
        debits.services.suspend_mandate(mandate=b.mandate, reason="Dispute", actor=b.operations),
        debits.services.activate_mandate(mandate=b.mandate, actor=b.operations),
    ),
    "debits.services.cancel_mandate": lambda b: debits.services.cancel_mandate(
        mandate=b.mandate, reason="Customer withdrew the authorisation", actor=b.operations
    ),
    "debits.services.give_up_credential_change": lambda b: (
        debits.services.give_up_credential_change(
            outbox_event_id=_outbox_event(b).pk, reason="Gateway down for a day"
        )
    ),
}

# The action each service records (its last event) and who is named as the actor:
# the attribute of the book holding that staff member, or None for the system or
# the customer.
RECORDS: dict[str, tuple[AuditAction, str | None]] = {
    "accounts.services.change_card_password": (AuditAction.CARD_PASSWORD_CHANGED, "agent"),
    "accounts.services.change_staff_password": (
        AuditAction.STAFF_PASSWORD_CHANGED,
        "target_staff",
    ),
    "accounts.services.request_staff_change": (AuditAction.STAFF_CHANGE_REQUESTED, "admin"),
    "accounts.services.approve_staff_change": (AuditAction.STAFF_CHANGE_APPROVED, "supervisor"),
    "accounts.services.reject_staff_change": (AuditAction.STAFF_CHANGE_REJECTED, "supervisor"),
    "accounts.services.complete_staff_password_reset": (
        AuditAction.STAFF_PASSWORD_RESET_COMPLETED,
        "target_staff",
    ),
    "accounts.services.clear_sign_in_history": (AuditAction.SIGN_IN_HISTORY_CLEARED, "admin"),
    "accounts.services.rotate_second_factor_keys": (
        AuditAction.SECOND_FACTOR_KEYS_ROTATED,
        "admin",
    ),
    "accounts.services.complete_password_reset": (AuditAction.PASSWORD_RESET_COMPLETED, None),
    "accounts.services.confirm_totp_enrolment": (
        AuditAction.STAFF_SECOND_FACTOR_ENROLMENT_FAILED,
        "target_staff",
    ),
    "accounts.services.provision_staff_second_factor": (
        AuditAction.STAFF_SECOND_FACTOR_PROVISIONED,
        "admin",
    ),
    "accounts.services.reset_staff_second_factor": (AuditAction.STAFF_SECOND_FACTOR_RESET, "admin"),
    "accounts.services.reveal_customer_phone": (AuditAction.CUSTOMER_PHONE_REVEALED, "supervisor"),
    "accounts.services.set_staff_language": (AuditAction.STAFF_LANGUAGE_CHANGED, "target_staff"),
    "accounts.services.set_staff_active": (AuditAction.STAFF_DISABLED, "admin"),
    "accounts.services.start_password_reset": (AuditAction.PASSWORD_RESET_STARTED, "agent"),
    "accounts.services.start_totp_enrolment": (
        AuditAction.STAFF_SECOND_FACTOR_ENROLMENT_STARTED,
        "target_staff",
    ),
    "accounts.services.unlock_staff": (AuditAction.STAFF_UNLOCKED, "supervisor"),
    "accounts.services.verify_card_password": (AuditAction.CARD_PASSWORD_VERIFICATION_FAILED, None),
    "accounts.services.verify_staff_second_factor": (
        AuditAction.STAFF_SECOND_FACTOR_FAILED,
        "target_staff",
    ),
    "debits.services.accrue_late_fees": (AuditAction.LATE_FEE_ACCRUAL_RUN, None),
    "debits.services.activate_mandate": (AuditAction.MANDATE_ACTIVATED, "operations"),
    "debits.services.apply_credential_change": (AuditAction.MANDATE_RESYNCED, None),
    "debits.services.approve_fee_waiver": (AuditAction.LATE_FEE_WAIVER_APPROVED, "supervisor"),
    "debits.services.cancel_mandate": (AuditAction.MANDATE_CANCELLED, "operations"),
    "debits.services.close_interrupted_syncs": (AuditAction.MANDATE_SYNC_INTERRUPTED_CLOSED, None),
    "debits.services.collect_debit_chunk": (AuditAction.DEBIT_RUN_CHUNK_COLLECTED, None),
    "debits.services.create_mandate": (AuditAction.MANDATE_CREATED, "operations"),
    "debits.services.give_up_credential_change": (AuditAction.OUTBOX_EVENT_ABANDONED, None),
    "debits.services.mark_mandate_sync_failed": (AuditAction.ALERT_RAISED, None),
    "debits.services.open_loan": (AuditAction.LOAN_OPENED, "operations"),
    "debits.services.pause_collection": (AuditAction.COLLECTION_PAUSED, "supervisor"),
    "debits.services.raise_alert": (AuditAction.ALERT_RAISED, None),
    "debits.services.resume_collection": (AuditAction.COLLECTION_RESUMED, "supervisor"),
    "debits.services.resync_mandate": (AuditAction.MANDATE_RESYNC_SKIPPED, "operations"),
    "debits.services.retry_debit_attempts": (
        AuditAction.DEBIT_ATTEMPT_RETRY_REQUESTED,
        "operations",
    ),
    "debits.services.run_debit_job": (AuditAction.DEBIT_RUN_STARTED, "operations"),
    "debits.services.settle_unresolved_attempts": (
        AuditAction.DEBIT_ATTEMPT_SETTLED_BY_JANITOR,
        None,
    ),
    "debits.services.suspend_mandate": (AuditAction.MANDATE_SUSPENDED, "operations"),
    "debits.services.waive_late_fee": (AuditAction.LATE_FEE_WAIVED, "supervisor"),
    # --- credential kinds, alerts, reconciliation and operations
    "accounts.services.change_card_authenticator": (AuditAction.CARD_AUTHENTICATOR_CHANGED, None),
    "accounts.services.flag_repeated_credential_changes": (
        AuditAction.CARD_FLAGGED_FOR_REPEATED_CREDENTIAL_CHANGES,
        None,
    ),
    "debits.services.acknowledge_alert": (AuditAction.ALERT_ACKNOWLEDGED, "operations"),
    "debits.services.resolve_alert": (AuditAction.ALERT_RESOLVED, "operations"),
    "debits.services.resolve_cleared_alerts": (AuditAction.ALERT_RESOLVED, None),
    "debits.services.resolve_cleared_alerts_of_kind": (AuditAction.ALERT_RESOLVED, None),
    "debits.services.reconcile_stale_mandates": (AuditAction.MANDATE_RESYNCED, None),
    "debits.services.reconcile_agreements": (
        AuditAction.RECONCILIATION_AGREEMENTS_PASS_FINISHED,
        None,
    ),
    "debits.services.reconcile_outbox": (AuditAction.OUTBOX_EVENT_RECONCILED, None),
    "debits.services.reconcile_repeated_credential_changes": (AuditAction.ALERT_RAISED, None),
    "debits.services.reconcile_unresolved_attempts": (
        AuditAction.DEBIT_ATTEMPT_SETTLED_BY_JANITOR,
        None,
    ),
    "debits.services.reconcile_stuck_runs": (AuditAction.ALERT_RAISED, None),
    "debits.services.rerun_stuck_debit_run": (AuditAction.DEBIT_RUN_STARTED, "operations"),
    "debits.services.request_resync_of_stale_mandates": (
        AuditAction.OPERATIONS_RESYNC_ALL_REQUESTED,
        "operations",
    ),
}


NOT_AUDITED: dict[str, str] = {
    "accounts.services.check_staff_reset_link": "read-only: says whether a staff link is usable",
    "accounts.services.check_password_reset_link": "read-only: says whether a link is usable",
    "accounts.services.reset_needs_supervisor": "read-only: a question about the card's state",
    "debits.services.check_authorisation_terms": "read-only: lists how a debit breaks its terms",
    "debits.services.normalise_failure_code": "pure function on a gateway code",
    "debits.services.record_debit_outcomes": (
        "the recording step of collect_debit_chunk, only called with the claims it made; "
        "its audit events are asserted through collect_debit_chunk"
    ),
    "accounts.services.queue_customer_notice": (
        "writes a notice inside the transaction of its cause, which is audited; the "
        "notice row is its own record, on the card's timeline"
    ),
    "accounts.services.send_customer_notice": (
        "delivers a notice already recorded; its sent time is stamped on the notice"
    ),
    "accounts.services.sweep_customer_notices": (
        "re-dispatches unsent notices and changes no business state"
    ),
    "debits.services.reconcile_failure_rates": (
        "raises and resolves alerts through raise_alert and resolve_cleared_alerts, which "
        "write the audit events (tests/debits/test_reconciliation.py crafts the jumps)"
    ),
    "debits.services.run_reconciliation": "runs the reconcile_* detectors, each audited",
    "debits.services.record_worker_heartbeat": "machine bookkeeping: a worker's last beat",
    "debits.services.take_operations_snapshot": "machine bookkeeping: the hour's figures",
    "debits.services.sweep_outbox": (
        "re-sends unfinished outbox messages and changes no business state; the change "
        "is audited when apply_credential_change consumes the event"
    ),
}


def _ask_for_grant(b: Book, kind: str = "grant_role"):
    return accounts.services.request_staff_change(
        staff=b.target_staff,
        kind=kind,
        role="auditor" if kind == "grant_role" else "",
        actor=b.admin,
        reason="Covers the audit team in March",
    )


def _decide_grant(b: Book, *, approve: bool):
    change = _ask_for_grant(b)
    before = AuditEvent.objects.count()
    if approve:
        accounts.services.approve_staff_change(change_request=change, approver=b.supervisor)
    else:
        accounts.services.reject_staff_change(
            change_request=change, approver=b.supervisor, reason="Not needed after all"
        )
    return before


def _complete_staff_reset(b: Book):
    from accounts.models import StaffPasswordReset
    from accounts.services.staff_grants import staff_reset_token_fingerprint

    change = _ask_for_grant(b, kind="reset_password")
    accounts.services.approve_staff_change(change_request=change, approver=b.supervisor)
    StaffPasswordReset.objects.filter(change_request=change).update(
        token_fingerprint=staff_reset_token_fingerprint("audit-test-staff-token")
    )
    before = AuditEvent.objects.count()
    accounts.services.complete_staff_password_reset(
        token_fingerprint=staff_reset_token_fingerprint("audit-test-staff-token"),
        new_password="a much better passphrase 7",
    )
    return before


def _stuck_run(b: Book, *, started):
    """A running run that stopped before recording its chunks."""
    from debits.models import DebitRun

    return DebitRun.objects.create(run_date=timezone.localdate(), kind="manual", started_at=started)


def _stuck_outbox_event(b: Book):
    OutboxEvent.objects.create(
        event_type=OutboxEvent.Type.CREDENTIAL_CHANGED,
        payload={"card_id": b.card.pk, "credential_version": b.card.credential_version},
        created_at=timezone.now() - dt.timedelta(hours=1),
    )


def _repeated_changes(b: Book):
    from accounts.models import PasswordChange

    for version in (2, 3, 4):
        PasswordChange.objects.create(
            card=b.card, kind="transaction", channel="mobile_app", credential_version=version
        )


def _open_alert(b: Book):
    """An open alert raised directly (its own audit event is not the one under test)."""
    from debits.models import Alert

    return Alert.objects.create(
        kind="mandate_drift", dedup_key="audit-test", message="Drift", mandate=b.mandate
    )


def _confirm_with_wrong_code(b: Book):
    from accounts.services.staff_security import StaffSecurityError

    accounts.services.start_totp_enrolment(staff=b.target_staff)
    before = AuditEvent.objects.count()
    with pytest.raises(StaffSecurityError):
        accounts.services.confirm_totp_enrolment(staff=b.target_staff, token="000000")
    return before


def _approve_waiver(b: Book):
    from django.conf import settings

    from debits.models import LateFee

    fee = LateFee.objects.create(
        instalment=b.instalment,
        amount=settings.LATE_FEE_WAIVER_APPROVAL_THRESHOLD + Decimal("1.00"),
    )
    fee = debits.services.waive_late_fee(
        fee=fee, reason="Bank-side failure after a password change", actor=b.complaints
    )
    before = AuditEvent.objects.count()
    debits.services.approve_fee_waiver(fee=fee, approver=b.supervisor)
    return before


def test_every_public_service_is_audited_or_declared_read_only():
    services = set(public_services())
    unclassified = services - set(AUDITED) - set(NOT_AUDITED)
    assert not unclassified, (
        "services neither exercised for an audit event nor declared read-only: "
        f"{sorted(unclassified)}"
    )
    assert not set(AUDITED) & set(NOT_AUDITED)
    assert set(RECORDS) == set(AUDITED)
    gone = (set(AUDITED) | set(NOT_AUDITED)) - services
    assert not gone, f"rows for services that no longer exist: {sorted(gone)}"


@pytest.mark.parametrize("name", sorted(AUDITED))
def test_each_service_records_its_action_and_its_actor(name, book):
    before = AuditEvent.objects.count()
    result = AUDITED[name](book)
    if isinstance(result, int) and not isinstance(result, bool):
        before = result
    assert AuditEvent.objects.count() > before, f"{name} wrote no audit event"
    newest = AuditEvent.objects.order_by("-id").first()
    action, actor = RECORDS[name]
    assert newest.action == action
    assert newest.actor == (getattr(book, actor) if actor else None)
    assert newest.object_type


# --- The auditor's viewer -----------------------------------------------------------------


@pytest.fixture
def events(db):
    alice = StaffUserFactory(username="alice", role="agent")
    bob = StaffUserFactory(username="bob", role="supervisor")
    customer = CustomerFactory()
    from accounts.audit import record_audit_event

    record_audit_event(actor=alice, action=AuditAction.PASSWORD_RESET_STARTED, target=customer)
    record_audit_event(
        actor=bob, action="customer.phone_revealed", target=customer, reason="=cmd|' /C calc'!A0"
    )
    record_audit_event(
        actor=bob, action="staff.unlocked", object_type="accounts.staffuser", object_id=7
    )
    return {"alice": alice, "bob": bob, "customer": customer}


def test_an_auditor_filters_the_trail_by_who_what_when_and_object(events):
    client = sign_in_verified(Client(), StaffUserFactory(role="auditor"))
    url = reverse("audit:trail")
    by_who = client.get(url, {"actor": events["alice"].pk})
    assert [e.action for e in by_who.context["page"]] == [AuditAction.PASSWORD_RESET_STARTED]
    by_what = client.get(url, {"action": "customer."})
    assert [e.action for e in by_what.context["page"]] == ["customer.phone_revealed"]
    by_object = client.get(url, {"object_type": "accounts.staffuser", "object_id": "7"})
    assert [e.action for e in by_object.context["page"]] == ["staff.unlocked"]
    today = timezone.localdate()
    in_range = client.get(
        url, {"occurred_after": today.isoformat(), "occurred_before": today.isoformat()}
    )
    assert len(in_range.context["page"]) >= 3
    tomorrow = today + dt.timedelta(days=1)
    assert not list(client.get(url, {"occurred_after": tomorrow.isoformat()}).context["page"])


def test_the_trail_is_paginated_in_a_fixed_number_of_queries(events, django_assert_max_num_queries):
    from accounts.audit import record_audit_event

    for i in range(60):
        record_audit_event(
            actor=events["bob"], action=AuditAction.ALERT_RAISED, object_type="t", object_id=i
        )
    client = sign_in_verified(Client(), StaffUserFactory(role="auditor"))
    first = client.get(reverse("audit:trail"))
    assert len(first.context["page"]) == 50
    second = client.get(reverse("audit:trail"), {"page": 2})
    assert len(second.context["page"]) == 13
    with django_assert_max_num_queries(14):
        client.get(reverse("audit:trail"))


def test_the_csv_export_neutralises_formulas(events):
    client = sign_in_verified(Client(), StaffUserFactory(role="auditor"))
    response = client.get(reverse("audit:export"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][0] == "occurred_at"
    reasons = [row[7] for row in rows[1:]]
    assert "'=cmd|' /C calc'!A0" in reasons
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@")), cell
    assert AuditEvent.objects.filter(action="audit.exported").exists()


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"])
def test_a_cell_a_spreadsheet_would_run_is_quoted(value):
    assert csv_safe(value).startswith("'")


def test_a_supervisor_may_read_the_trail_but_not_export_it(events):
    client = sign_in_verified(Client(), StaffUserFactory(role="supervisor"))
    assert client.get(reverse("audit:trail")).status_code == 200
    assert client.get(reverse("audit:export")).status_code == 403
    assert b"Export CSV" not in client.get(reverse("audit:trail")).content


def test_the_viewer_is_read_only(events):
    client = sign_in_verified(Client(), StaffUserFactory(role="auditor"))
    count = AuditEvent.objects.count()
    response = client.post(reverse("audit:trail"), {"action": "x"})
    assert response.status_code in (200, 405)
    assert AuditEvent.objects.count() == count


def test_an_audit_event_carries_the_request_id_and_source_address(events):
    client = sign_in_verified(Client(REMOTE_ADDR="10.1.2.3"), StaffUserFactory(role="supervisor"))
    client.post(
        reverse("customers:reveal_phone", args=[events["customer"].pk]),
        {"reason": "Customer asked for a call-back"},
        HTTP_X_REQUEST_ID="req-0123456789abcdef",
    )
    event = AuditEvent.objects.get(
        action="customer.phone_revealed", actor__isnull=False, reason__startswith="Customer"
    )
    assert event.request_id == "req-0123456789abcdef"
    assert event.source_ip == "10.1.2.3"
