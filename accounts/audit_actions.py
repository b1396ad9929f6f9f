"""The audit trail's vocabulary: every action an audit event can record.

One member per business action, like an audit log's event types: services name
the action they record from here, never as a free string, so the audit viewer
can label every event and a test can assert the exact action. The values are
the strings stored in ``AuditEvent.action``; never change one that has been
written, add a new member instead.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditAction(models.TextChoices):
    ADMIN_ADD = "admin.add", _("Record added in the admin")
    ADMIN_CHANGE = "admin.change", _("Record changed in the admin")
    ADMIN_DELETE = "admin.delete", _("Record deleted in the admin")

    ALERT_RAISED = "alert.raised", _("Alert raised")
    ALERT_ACKNOWLEDGED = "alert.acknowledged", _("Alert acknowledged")
    ALERT_RESOLVED = "alert.resolved", _("Alert resolved")

    AUDIT_EXPORTED = "audit.exported", _("Audit trail exported")

    BREAK_GLASS_CLOSED = "break_glass.closed", _("Break-glass superuser ended")
    BREAK_GLASS_OPENED = "break_glass.opened", _("Break-glass superuser granted")
    BREAK_GLASS_REQUEST = "break_glass.request", _("Request made with break-glass rights")

    CARD_PASSWORD_CHANGED = "card.password_changed", _("Card password changed")
    CARD_PASSWORD_VERIFICATION_FAILED = (
        "card.password_verification_failed",
        _("Card password verification failed"),
    )
    CARD_PASSWORD_VERIFICATION_REFUSED = (
        "card.password_verification_refused",
        _("Card password verification refused"),
    )
    CARD_PASSWORD_VERIFIED = "card.password_verified", _("Card password verified")
    CARD_AUTHENTICATOR_CHANGED = "card.authenticator_changed", _("Card biometric or device changed")
    CARD_FLAGGED_FOR_REPEATED_CREDENTIAL_CHANGES = (
        "card.flagged_for_repeated_credential_changes",
        _("Card flagged for repeated credential changes"),
    )

    COLLECTION_PAUSED = "collection.paused", _("Collection paused")
    COLLECTION_RESUMED = "collection.resumed", _("Collection resumed")

    COMPENSATION_APPROVAL_REFUSED = (
        "compensation.approval_refused",
        _("Self-approval of a compensation refused"),
    )
    COMPENSATION_APPROVED = "compensation.approved", _("Compensation approved")
    COMPENSATION_GRANTED = "compensation.granted", _("Compensation granted")
    COMPENSATION_PROPOSED = "compensation.proposed", _("Compensation proposed automatically")
    COMPENSATION_REJECTED = "compensation.rejected", _("Compensation turned down")
    COMPENSATION_REQUESTED = "compensation.requested", _("Compensation requested")

    COMPLAINT_ASSIGNED = "complaint.assigned", _("Complaint assigned")
    COMPLAINT_ASSIGNMENT_REFUSED = (
        "complaint.assignment_refused",
        _("Complaint assignment refused (conflict of interest)"),
    )
    COMPLAINT_CLOSED = "complaint.closed", _("Complaint closed")
    COMPLAINT_DEADLINE_EXTENDED = "complaint.deadline_extended", _("Complaint deadline extended")
    COMPLAINT_DECIDED = "complaint.decided", _("Complaint decided")
    COMPLAINT_ESCALATED = "complaint.escalated", _("Complaint escalated past its deadline")
    COMPLAINT_INVESTIGATION_STARTED = (
        "complaint.investigation_started",
        _("Complaint investigation started"),
    )
    COMPLAINT_LOGGED = "complaint.logged", _("Complaint logged")
    COMPLAINT_REMEDY_APPLIED = "complaint.remedy_applied", _("Complaint remedy applied")
    COMPLAINT_REMINDED = "complaint.reminder_sent", _("Complaint deadline reminder sent")
    COMPLAINT_REOPENED = "complaint.reopened", _("Complaint reopened")

    CUSTOMER_PHONE_REVEALED = "customer.phone_revealed", _("Customer phone revealed")

    DEBIT_ATTEMPT_EXPORTED = "debit_attempt.exported", _("Debit attempts exported")
    DEBIT_ATTEMPT_RETRY_REQUESTED = "debit_attempt.retry_requested", _("Debit retry requested")
    DEBIT_ATTEMPT_SETTLED_BY_JANITOR = (
        "debit_attempt.settled_by_janitor",
        _("Debit attempt settled by status query"),
    )

    DEBIT_RUN_CHUNK_COLLECTED = "debit_run.chunk_collected", _("Debit run chunk collected")
    DEBIT_RUN_RERUN = "debit_run.rerun", _("Stuck debit run re-run")
    DEBIT_RUN_STARTED = "debit_run.started", _("Debit run started")

    DEMO_SEEDED = "demo.seeded", _("Demo book seeded")

    LATE_FEE_ACCRUAL_RUN = "late_fee.accrual_run", _("Late fees accrued")
    LATE_FEE_WAIVED = "late_fee.waived", _("Late fee waived")
    LATE_FEE_WAIVED_AUTOMATICALLY = (
        "late_fee.waived_automatically",
        _("Late fee waived automatically"),
    )
    LATE_FEE_WAIVER_APPROVED = "late_fee.waiver_approved", _("Late fee waiver approved")
    LATE_FEE_WAIVER_REQUESTED = "late_fee.waiver_requested", _("Late fee waiver requested")

    LINK_NOT_SENT = (
        "notification.link_not_sent",
        _("Single-use link not sent (notification gateway failed)"),
    )
    LOAN_OPENED = "loan.opened", _("Loan opened")

    MANDATE_ACTIVATED = "mandate.activated", _("Mandate activated")
    MANDATE_AGREEMENT_MISMATCH_FOUND = (
        "mandate.agreement_mismatch_found",
        _("Mandate differs from the network's agreement"),
    )
    MANDATE_CANCELLED = "mandate.cancelled", _("Mandate cancelled")
    MANDATE_CREATED = "mandate.created", _("Mandate created")
    MANDATE_FAILED = "mandate.failed", _("Mandate failed")
    MANDATE_RESYNC_FAILED = "mandate.resync_failed", _("Mandate re-sync failed")
    MANDATE_RESYNC_SKIPPED = "mandate.resync_skipped", _("Mandate re-sync not needed")
    MANDATE_RESYNCED = "mandate.resynced", _("Mandate re-synced")
    MANDATE_SUSPENDED = "mandate.suspended", _("Mandate suspended")
    MANDATE_SYNC_FAILED = "mandate.sync_failed", _("Mandate marked out of sync")

    MANDATE_SYNC_INTERRUPTED_CLOSED = (
        "mandate_sync.interrupted_closed",
        _("Interrupted re-sync closed"),
    )

    OUTBOX_EVENT_ABANDONED = "outbox_event.abandoned", _("Outbox event abandoned")
    OUTBOX_EVENT_RECONCILED = "outbox_event.reconciled", _("Outbox event closed by reconciliation")

    OPERATIONS_RESYNC_ALL_REQUESTED = (
        "operations.resync_all_requested",
        _("Re-sync of every stale mandate requested"),
    )

    REPAIR_PROMISE_BROKEN = "repair_promise.broken", _("Repair promise broken")
    REPAIR_PROMISE_KEPT = "repair_promise.kept", _("Repair promise kept")
    REPAIR_PROMISE_STARTED = "repair_promise.started", _("Repair promise clock started")

    PASSWORD_RESET_COMPLETED = "password_reset.completed", _("Card password reset completed")
    PASSWORD_RESET_STARTED = "password_reset.started", _("Card password reset started")

    SECOND_FACTOR_KEYS_ROTATED = (
        "second_factor.keys_rotated",
        _("Second-factor encryption key rotated"),
    )

    SIGN_IN_HISTORY_CLEARED = "sign_in_history.cleared", _("Old sign-in history cleared")

    RECONCILIATION_AGREEMENTS_PASS_FINISHED = (
        "reconciliation.agreements_pass_finished",
        _("Agreements reconciliation pass finished"),
    )

    STAFF_DEMO_LOGIN_CREATED = "staff.demo_login_created", _("Demo staff login created")
    STAFF_DEMO_PASSWORD_RESET = "staff.demo_password_reset", _("Demo staff password reset")
    STAFF_DISABLED = "staff.disabled", _("Staff account disabled")
    STAFF_ENABLED = "staff.enabled", _("Staff account enabled")
    STAFF_LANGUAGE_CHANGED = "staff.language_changed", _("Staff workspace language changed")
    STAFF_PASSWORD_CHANGED = "staff.password_changed", _("Staff password changed")
    STAFF_PASSWORD_RESET_COMPLETED = (
        "staff.password_reset_completed",
        _("Staff password set from a reset link"),
    )
    STAFF_SECOND_FACTOR_ENROLLED = "staff.second_factor_enrolled", _("Second factor enrolled")
    STAFF_SECOND_FACTOR_ENROLMENT_FAILED = (
        "staff.second_factor_enrolment_failed",
        _("Second factor enrolment failed"),
    )
    STAFF_SECOND_FACTOR_ENROLMENT_STARTED = (
        "staff.second_factor_enrolment_started",
        _("Second factor enrolment started"),
    )
    STAFF_SECOND_FACTOR_FAILED = "staff.second_factor_failed", _("Second factor refused")
    STAFF_SECOND_FACTOR_PROVISIONED = (
        "staff.second_factor_provisioned",
        _("Second factor provisioned"),
    )
    STAFF_SECOND_FACTOR_RESET = "staff.second_factor_reset", _("Second factor reset")
    STAFF_SECOND_FACTOR_VERIFIED = "staff.second_factor_verified", _("Second factor verified")
    STAFF_SUPERUSER_REMOVED = "staff.superuser_removed", _("Superuser flag removed")
    STAFF_UNLOCKED = "staff.unlocked", _("Staff login unlocked")

    STAFF_CHANGE_APPROVED = "staff_change.approved", _("Staff change approved and applied")
    STAFF_CHANGE_REJECTED = "staff_change.rejected", _("Staff change rejected")
    STAFF_CHANGE_REQUESTED = "staff_change.requested", _("Staff change requested")
