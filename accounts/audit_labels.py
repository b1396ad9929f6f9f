"""What staff read in the audit trail besides the action (whose label is the
vocabulary's, ``accounts.audit_actions.AuditAction``): the object types and the
actors that are not staff members, in every language of the workspace."""

from django.utils.translation import gettext_lazy as _

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
