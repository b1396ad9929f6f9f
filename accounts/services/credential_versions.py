"""The one transaction behind every card credential change, whatever the kind.

``change_card_password`` (the two passwords) and ``change_card_authenticator``
(biometrics, bound device) each check and prepare their own credential and then
call ``record_credential_change``; call those two, not this module. Keeping one
core means a binding kind can never bump the version without the outbox event,
or write the event without the audit record.
"""

import datetime as dt
import logging
from collections.abc import Callable

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.audit import AuditAction, record_audit_event
from accounts.models import (
    Card,
    CredentialKind,
    CustomerNotice,
    OutboxEvent,
    PasswordChange,
    PasswordResetRequest,
    StaffUser,
)
from accounts.outbox import dispatch_outbox_event
from accounts.services.customer_notices import credential_changed_text, queue_customer_notice

logger = logging.getLogger(__name__)


def record_credential_change(
    *,
    card: Card,
    kind: str,
    actor: StaffUser | None,
    channel: str,
    action: AuditAction,
    store: Callable[[dt.datetime], None],
    summary: dict,
    reset_request: PasswordResetRequest | None = None,
) -> PasswordChange:
    """The one transaction behind every credential change, whatever the kind.

    ``store(now)`` writes the credential itself (a hash, an enrolment). A kind
    mandates bind to bumps the card's credential version and writes a
    ``card.credential_changed`` outbox event, whose consumer re-syncs the card's
    mandates after commit; any other kind is recorded and audited, nothing more.
    """
    binds = CredentialKind.binds_mandates(kind)
    with transaction.atomic():
        now = timezone.now()
        if binds:
            # The UPDATE locks the card row until commit, so concurrent changes of
            # one card get consecutive versions, and outbox events in version order.
            Card.objects.filter(pk=card.pk).update(
                credential_version=F("credential_version") + 1, credential_changed_at=now
            )
        version = Card.objects.values_list("credential_version", flat=True).get(pk=card.pk)
        store(now)
        change = PasswordChange.objects.create(
            card_id=card.pk,
            kind=kind,
            channel=channel,
            actor=actor if actor is not None else getattr(reset_request, "requested_by", None),
            credential_version=version,
            reset_request=reset_request,
            changed_at=now,
        )
        record_audit_event(
            actor=actor,
            actor_label="" if actor else ("customer" if reset_request else "system"),
            action=action,
            target=card,
            summary={"kind": kind, "channel": channel, "credential_version": version, **summary},
        )
        if binds:
            event = OutboxEvent.objects.create(
                event_type=OutboxEvent.Type.CREDENTIAL_CHANGED,
                payload={"card_id": card.pk, "credential_version": version},
                created_at=now,
            )
            transaction.on_commit(
                lambda: dispatch_outbox_event(event.pk, OutboxEvent.Type.CREDENTIAL_CHANGED)
            )
        # Whatever the channel: the customer hears of it from us before anyone else.
        queue_customer_notice(
            customer=card.customer,
            card=card,
            topic=CustomerNotice.Topic.PASSWORD_CHANGED,
            dedup_key=f"password_changed:{change.pk}",
            text=credential_changed_text(change=change, last_four=card.last_four),
            channel=reset_request.delivery_channel if reset_request else "sms",
        )
    card.credential_version = version
    card.credential_changed_at = Card.objects.values_list("credential_changed_at", flat=True).get(
        pk=card.pk
    )
    return change
