"""Consuming ``card.credential_changed`` outbox events: tell the network, re-sync the mandates.

An event is processed once every live mandate of its card is bound to the
event's credential version or a later one. Until then it stays unprocessed,
so whatever stopped it (a lost broker message, a killed worker, a gateway
outage) ends with the sweeper dispatching it again.

Consuming an event first sends the payment network a credential-change
notice for the card, whether or not automatic re-sync is on. The notice
stands for the change reaching the core system, which the network hears of
independently of the auto-debit module: that is why, with
``AUTO_RESYNC_ENABLED=false``, the network still refuses the card's old
agreements (``agreement_stale``), the original failure. The notice is
idempotent at the network, so a redelivered event sends it again harmlessly.
"""

from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.audit import AuditAction, record_audit_event
from accounts.models import Card, OutboxEvent
from accounts.outbox import claim_for_redispatch
from accounts.pii import card_network_reference
from debits.gateways import GatewayError, get_gateway
from debits.models import Mandate, MandateSync
from debits.notices import tell_mandates_rebound
from debits.services.resync import (
    RESYNCABLE_STATES,
    MandateNotResyncable,
    mark_mandate_sync_failed,
    resync_mandate,
)

CONSUME_TASK_NAME = "debits.tasks.resync.consume_credential_change_task"
# One sweep re-dispatches at most this many events: a backlog after an outage
# drains over a few sweeps instead of one burst that floods the re-sync queue.
SWEEP_BATCH_SIZE = 500


@dataclass
class CredentialChangeOutcome:
    outbox_event_id: int
    processed: bool
    skipped_reason: str = ""
    behind_mandate_ids: list[int] = field(default_factory=list)
    syncs: list[MandateSync] = field(default_factory=list)
    # False when the credential-change notice to the network failed (worth a retry).
    network_notified: bool = True


def _mandates_behind(*, card_id: int, version: int):
    return Mandate.objects.filter(
        card_id=card_id, state__in=RESYNCABLE_STATES, synced_credential_version__lt=version
    ).order_by("pk")


def apply_credential_change(
    *, outbox_event_id: int, trigger: str = MandateSync.Trigger.CREDENTIAL_CHANGE
) -> CredentialChangeOutcome:
    """Re-sync every live mandate of the event's card; mark the event processed when done.

    Safe to run twice or concurrently: mandates already bound are skipped and
    ``resync_mandate`` never moves a mandate backwards.
    """
    event = OutboxEvent.objects.filter(pk=outbox_event_id).first()
    if event is None or event.event_type != OutboxEvent.Type.CREDENTIAL_CHANGED:
        return CredentialChangeOutcome(outbox_event_id, processed=False, skipped_reason="unknown")
    if event.processed_at is not None:
        return CredentialChangeOutcome(outbox_event_id, processed=True, skipped_reason="done")
    card_id = int(event.payload["card_id"])
    version = int(event.payload["credential_version"])
    notice_error = notify_network_of_credential_change(card_id=card_id, credential_version=version)
    if not settings.AUTO_RESYNC_ENABLED:
        # The original failure, kept reproducible: the change never reaches the
        # agreements. The event stays unprocessed, so switching re-sync back on
        # lets the sweeper repair everything missed meanwhile.
        if notice_error:
            OutboxEvent.objects.filter(pk=event.pk).update(last_error=notice_error)
        return CredentialChangeOutcome(
            outbox_event_id,
            processed=False,
            skipped_reason="auto_resync_disabled",
            network_notified=not notice_error,
        )

    OutboxEvent.objects.filter(pk=event.pk).update(attempts=F("attempts") + 1)
    syncs = []
    # A failed notice is harmless once every agreement is re-bound: each binding
    # tells the network the card's new version too.
    errors = [notice_error] if notice_error else []
    for mandate in _mandates_behind(card_id=card_id, version=version).select_related("card"):
        try:
            sync = resync_mandate(mandate=mandate, trigger=trigger)
        except MandateNotResyncable:
            continue  # cancelled meanwhile: nothing left to bind
        syncs.append(sync)
        if sync.outcome == MandateSync.Outcome.FAILED:
            errors.append(f"{mandate.reference}: {sync.error_code}")

    behind = list(_mandates_behind(card_id=card_id, version=version).values_list("pk", flat=True))
    if behind:
        OutboxEvent.objects.filter(pk=event.pk).update(last_error="; ".join(errors)[:1000])
        return CredentialChangeOutcome(
            outbox_event_id,
            processed=False,
            behind_mandate_ids=behind,
            syncs=syncs,
            network_notified=not notice_error,
        )
    with transaction.atomic():
        # The row count says which run closed the event: that one tells the customer, once.
        closed = OutboxEvent.objects.filter(pk=event.pk, processed_at__isnull=True).update(
            processed_at=timezone.now(), last_error=""
        )
        if closed and Mandate.objects.filter(card_id=card_id, state__in=RESYNCABLE_STATES).exists():
            card = Card.objects.select_related("customer").get(pk=card_id)
            tell_mandates_rebound(card=card, credential_version=version)
    return CredentialChangeOutcome(outbox_event_id, processed=True, syncs=syncs)


def notify_network_of_credential_change(*, card_id: int, credential_version: int) -> str:
    """Send the network the card's credential-change notice; "" when sent, else why not.

    Called with no transaction open (the gateway must not hold a row lock).
    """
    number_fingerprint = (
        Card.objects.filter(pk=card_id).values_list("number_fingerprint", flat=True).first()
    )
    if number_fingerprint is None:
        return ""  # the card is gone: no agreement of it can be collected
    try:
        get_gateway().notify_credential_change(
            card_reference=card_network_reference(number_fingerprint),
            credential_version=credential_version,
        )
    except GatewayError as exc:
        return f"credential-change notice: {exc.code}: {exc}"[:300]
    return ""


def postpone_redispatch(*, outbox_event_id: int, seconds: float) -> None:
    """A retry is scheduled: keep the sweeper from starting a second retry chain meanwhile."""
    OutboxEvent.objects.filter(pk=outbox_event_id, processed_at__isnull=True).update(
        last_dispatched_at=timezone.now() + timezone.timedelta(seconds=seconds)
    )


@transaction.atomic
def give_up_credential_change(
    *, outbox_event_id: int, reason: str, attempts: int | None = None
) -> list[Mandate]:
    """Retries ran out: flag every mandate still behind for operations, close the event.

    The event is closed rather than left for the sweeper: from here on the
    flagged mandates (and their alert) are operations' to repair, and the debit
    pre-flight re-syncs them before any collect.
    """
    event = OutboxEvent.objects.select_for_update().get(pk=outbox_event_id)
    if event.processed_at is not None:
        return []
    card_id = int(event.payload["card_id"])
    version = int(event.payload["credential_version"])
    flagged = [
        mark_mandate_sync_failed(mandate=mandate, reason=reason, attempts=attempts)
        for mandate in _mandates_behind(card_id=card_id, version=version)
    ]
    event.processed_at = timezone.now()
    tries = f" after {attempts} attempts" if attempts is not None else ""
    event.last_error = f"gave up: {reason}{tries}"[:1000]
    event.save(update_fields=["processed_at", "last_error"])
    record_audit_event(
        actor=None,
        action=AuditAction.OUTBOX_EVENT_ABANDONED,
        target=event,
        summary={
            "card_id": card_id,
            "credential_version": version,
            "flagged_mandates": [m.pk for m in flagged],
            "reason": reason[:200],
        },
    )
    return flagged


def sweep_outbox(*, older_than_seconds: float | None = None) -> list[int]:
    """Claim credential-change events no worker finished in time and dispatch them again.

    Claimed with ``skip_locked`` so two sweepers (a second beat by mistake, a
    manual run) never dispatch the same batch twice; dispatched after commit.
    """
    from debits.tasks.resync import consume_credential_change_task

    if not settings.AUTO_RESYNC_ENABLED:
        return []
    with transaction.atomic():
        claimed = claim_for_redispatch(
            OutboxEvent.objects.filter(
                processed_at__isnull=True, event_type=OutboxEvent.Type.CREDENTIAL_CHANGED
            ),
            older_than_seconds=older_than_seconds,
            limit=SWEEP_BATCH_SIZE,
        )
        for event_id in claimed:
            transaction.on_commit(
                lambda event_id=event_id: consume_credential_change_task.apply_async(
                    args=[event_id], kwargs={"trigger": MandateSync.Trigger.SWEEPER}
                )
            )
    return claimed
