"""The labels and amounts staff read, shared by the template filters
(backoffice.templatetags.workspace) and by the messages views write.

- ``format_yuan``: ``¥11,566.67``, computed on the Decimal, never a float.
- ``code_label(code, kind)``: the label staff read for a code, in the active
  language; an unknown code shows as itself rather than disappearing.
"""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.utils.translation import gettext_lazy as _

from accounts.audit_actions import AuditAction
from accounts.audit_labels import ACTOR_LABELS, OBJECT_TYPE_LABELS
from accounts.models import Channel
from accounts.roles import ROLE_LABELS
from debits.labels import (
    CODE_LABELS,
    FEE_CAUSE_LABELS,
    SKIP_REASON_LABELS,
)
from debits.models import Alert, DebitAttempt

CENT = Decimal("0.01")

# The kinds of line on a card's timeline (backoffice.complaints.timeline).
TIMELINE_KIND_LABELS = {
    "credential_change": _("Credential change"),
    "reset": _("Password reset"),
    "sync": _("Re-sync"),
    "debit": _("Debit"),
    "fee": _("Late fee"),
    "fee_waived": _("Waiver"),
    "pause": _("Collection pause"),
    "notice": _("Notice"),
    "alert": _("Alert"),
    "staff_action": _("Staff action"),
}

# Label kinds a template may ask for: code -> label.
LABELS = {
    # The tables an alert's coded values are named from, under the same names.
    **CODE_LABELS,
    "skip_reason": SKIP_REASON_LABELS,
    "fee_cause": FEE_CAUSE_LABELS,
    "audit_action": dict(AuditAction.choices),
    "object_type": OBJECT_TYPE_LABELS,
    "actor": ACTOR_LABELS,
    "attempt_state": dict(DebitAttempt.State.choices),
    "alert_severity": dict(Alert.Severity.choices),
    "channel": dict(Channel.choices),
    "role": {str(role): text for role, text in ROLE_LABELS.items()},
    "timeline_kind": TIMELINE_KIND_LABELS,
}


def format_yuan(value) -> str:
    """``value`` (Decimal, int or a decimal string) as ``¥1,234.50``; "" for nothing."""
    if value is None or value == "":
        return ""
    if isinstance(value, float):
        # A float has already lost the cents this would print; refuse to hide it.
        raise TypeError("amounts are Decimal, never float")
    try:
        amount = Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)
    except (InvalidOperation, TypeError, ValueError):
        return str(value)
    sign = "-" if amount < 0 else ""
    return f"{sign}¥{abs(amount):,.2f}"


def code_label(code, kind: str) -> str:
    """The label of ``code`` among ``kind``'s codes (the code itself if it has none)."""
    if code in (None, ""):
        return ""
    return str(LABELS[kind].get(str(code), code))
