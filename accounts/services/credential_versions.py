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

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from kombu.exceptions import OperationalError

from accounts.audit import AuditAction, record_audit_event
from accounts.models import (
    Card,
    CredentialKind,
    OutboxEvent,
    PasswordChange,
    PasswordResetRequest,
    StaffUser,
)

logger = logging.getLogger(__name__)


def _dispatch_outbox_event(event_id: int, event_type: str) -> None:
    """Hand a committed outbox event to its consumer task, by name.

    accounts does not import debits (debits depends on accounts): the consumer
    task is named in ``settings.OUTBOX_CONSUMER_TASKS`` and resolved through
    Celery's registry, so routing, eager mode in tests and the queue all come
    from Celery's configuration. If the broker is down the event is not lost:
    it stays unprocessed in the outbox and the sweeper dispatches it later.
    """
    task_name = settings.OUTBOX_CONSUMER_TASKS.get(event_type)
    if not task_name:
        return
    try:
        task = current_app.tasks.get(task_name)
        if task is None:
            # Task modules load lazily (autodiscovery); load them once, by name.
            current_app.loader.import_default_modules()
            task = current_app.tasks.get(task_name)
        if task is not None:
            task.apply_async(args=[event_id])
        else:
            current_app.send_task(task_name, args=[event_id])
    except OperationalError:
        logger.warning(
            "outbox event %s not dispatched (broker unavailable); the sweeper will retry",
            event_id,
        )


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
                lambda: _dispatch_outbox_event(event.pk, OutboxEvent.Type.CREDENTIAL_CHANGED)
            )
    card.credential_version = version
    card.credential_changed_at = Card.objects.values_list("credential_changed_at", flat=True).get(
        pk=card.pk
    )
    return change
