"""Biometrics (fingerprint, face) and a bound device that approve a card's payments,
and the flag on a card whose credentials change too often.

They bind mandates like the transaction password: every enrolment, re-enrolment
or removal moves the card's credential version through the same core and
outbox as ``change_card_password``, and the card's mandates are re-bound after
commit.
"""

import datetime as dt
from enum import StrEnum

from django.db import transaction
from django.utils import timezone

from accounts.audit import AuditAction, record_audit_event
from accounts.models import Card, CardAuthenticator, PasswordChange, StaffUser
from accounts.pii import authenticator_reference_fingerprint
from accounts.services.card_credentials import CardPasswordError, check_channel
from accounts.services.credential_versions import record_credential_change


class AuthenticatorChange(StrEnum):
    ENROL = "enrol"
    REMOVE = "remove"


def change_card_authenticator(
    *,
    card: Card,
    kind: str,
    change: str,
    reference: str = "",
    actor: StaffUser | None,
    channel: str,
) -> PasswordChange:
    """Enrol (or re-enrol) or remove a card's fingerprint, face or bound device.

    Each of these approves payments, so every change moves the card's credential
    version through the same transaction and outbox as a transaction-password
    change: the card's mandates are re-bound to it after commit. ``reference`` is
    the enrolling device's template or device id; only its keyed fingerprint is kept.
    """
    if kind not in CardAuthenticator.Kind.values:
        raise CardPasswordError(f"Unknown authenticator kind: {kind}")
    if change not in {member.value for member in AuthenticatorChange}:
        raise CardPasswordError(f"Unknown authenticator change: {change}")
    check_channel(channel)
    reference = reference.strip()
    if change == AuthenticatorChange.ENROL and not reference:
        raise CardPasswordError("An enrolment needs the device's reference.")

    def store(now: dt.datetime) -> None:
        current = (
            CardAuthenticator.objects.select_for_update().filter(card_id=card.pk, kind=kind).first()
        )
        if change == AuthenticatorChange.REMOVE:
            if current is None or current.state == CardAuthenticator.State.REMOVED:
                raise CardPasswordError("Nothing of that kind is enrolled on this card.")
            current.state = CardAuthenticator.State.REMOVED
            current.removed_at = current.changed_at = now
            current.save(update_fields=["state", "removed_at", "changed_at"])
            return
        fingerprint = authenticator_reference_fingerprint(kind, reference)
        if current is None:
            CardAuthenticator.objects.create(
                card_id=card.pk,
                kind=kind,
                reference_fingerprint=fingerprint,
                enrolled_at=now,
                changed_at=now,
            )
            return
        current.state = CardAuthenticator.State.ENROLLED
        current.reference_fingerprint = fingerprint
        current.enrolled_at = current.changed_at = now
        current.removed_at = None
        current.save(
            update_fields=[
                "state",
                "reference_fingerprint",
                "enrolled_at",
                "changed_at",
                "removed_at",
            ]
        )

    return record_credential_change(
        card=card,
        kind=kind,
        actor=actor,
        channel=channel,
        action=AuditAction.CARD_AUTHENTICATOR_CHANGED,
        store=store,
        summary={"change": change},
    )


@transaction.atomic
def flag_repeated_credential_changes(*, card: Card, changes: int, window_hours: int) -> bool:
    """Reconciliation saw ``changes`` credential changes on the card within the window:
    flag it, so the next staff reset needs a supervisor. False if already flagged."""
    now = timezone.now()
    reason = f"{changes} credential changes within {window_hours} h"
    flagged = Card.objects.filter(pk=card.pk, credential_changes_flagged_at__isnull=True).update(
        credential_changes_flagged_at=now, credential_changes_flag_reason=reason[:200]
    )
    if not flagged:
        return False
    card.credential_changes_flagged_at, card.credential_changes_flag_reason = now, reason
    record_audit_event(
        actor=None,
        action=AuditAction.CARD_FLAGGED_FOR_REPEATED_CREDENTIAL_CHANGES,
        target=card,
        summary={"changes": changes, "window_hours": window_hours},
    )
    return True
