"""The complaints' domain error (their audit actions are in ``accounts.audit_actions``)."""


class ComplaintError(Exception):
    """An action the rules do not allow; the message says why (shown to staff)."""
