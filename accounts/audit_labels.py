"""What staff read in the audit trail: the label of every audit action, object type
and non-staff actor, in every language of the workspace.

The actions are the strings the services pass to ``record_audit_event``; a test
finds every one of them in the code and fails when one has no label here, so a
new action cannot reach the audit trail as a raw code.
"""

from django.utils.translation import gettext_lazy as _

AUDIT_ACTION_LABELS = {
    "admin.delete": _("Deleted in the admin"),
    "alert.raised": _("Alert raised"),
    "audit.exported": _("Audit trail exported"),
    "card.password_changed": _("Card password changed"),
    "card.password_verification_refused": _("Card password check refused"),
    "card.password_verified": _("Card password checked"),
    "collection.paused": _("Collection paused"),
    "collection.resumed": _("Collection resumed"),
    "customer.phone_revealed": _("Customer phone revealed"),
    "debit_attempt.exported": _("Debit attempts exported"),
    "debit_attempt.retry_requested": _("Debit retry requested"),
    "debit_attempt.settled_by_janitor": _("Debit attempt settled by the janitor"),
    "debit_run.chunk_collected": _("Debit run chunk collected"),
    "debit_run.started": _("Debit run started"),
    "demo.seeded": _("Demo book seeded"),
    "late_fee.accrual_run": _("Late fees accrued"),
    "late_fee.waived_automatically": _("Late fee waived automatically"),
    "late_fee.waiver_approved": _("Late fee waiver approved"),
    "late_fee.waiver_requested": _("Late fee waiver requested"),
    "mandate.failed": _("Mandate failed"),
    "mandate.resync_failed": _("Mandate re-sync failed"),
    "mandate.resync_skipped": _("Mandate re-sync skipped"),
    "mandate.resynced": _("Mandate re-synced"),
    "mandate.sync_failed": _("Mandate flagged: re-sync failed"),
    "mandate_sync.interrupted_closed": _("Interrupted re-sync closed"),
    "outbox_event.abandoned": _("Outbox event abandoned"),
    "password_reset.completed": _("Card password reset completed"),
    "password_reset.started": _("Card password reset started"),
    "staff.demo_login_created": _("Demo staff login created"),
    "staff.enabled": _("Staff login enabled or disabled"),
    "staff.language_changed": _("Staff language changed"),
    "staff.password_changed": _("Staff password changed"),
    "staff.second_factor_enrolled": _("Second factor enrolled"),
    "staff.second_factor_enrolment_failed": _("Second factor enrolment failed"),
    "staff.second_factor_enrolment_started": _("Second factor enrolment started"),
    "staff.second_factor_provisioned": _("Second factor provisioned"),
    "staff.second_factor_reset": _("Second factor reset"),
    "staff.second_factor_verified": _("Second factor verified"),
    "staff.unlocked": _("Staff login unlocked"),
}

# AuditEvent.object_type (a model's label, or a name for a thing without one).
OBJECT_TYPE_LABELS = {
    "accounts.staffuser": _("Staff member"),
    "accounts.customer": _("Customer"),
    "accounts.card": _("Card"),
    "accounts.cardcredential": _("Card password"),
    "accounts.passwordchange": _("Password change"),
    "accounts.passwordresetrequest": _("Password reset"),
    "accounts.auditevent": _("Audit trail"),
    "accounts.outboxevent": _("Outbox event"),
    "debits.loan": _("Loan"),
    "debits.instalment": _("Instalment"),
    "debits.mandate": _("Mandate"),
    "debits.mandatesync": _("Mandate re-sync"),
    "debits.debitrun": _("Debit run"),
    "debits.debitattempt": _("Debit attempt"),
    "debits.skippedinstalment": _("Skipped instalment"),
    "debits.latefee": _("Late fee"),
    "debits.collectionpause": _("Collection pause"),
    "debits.alert": _("Alert"),
    "demo_book": _("Demo book"),
}

# AuditEvent.actor_label when no staff member acted.
ACTOR_LABELS = {
    "staff": _("Staff"),
    "system": _("System"),
    "customer": _("Customer"),
    "gateway": _("Payment gateway"),
}
