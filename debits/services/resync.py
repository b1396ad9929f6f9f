"""Re-sync: binding a mandate's gateway agreement to the card's current credential version."""

import time

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from accounts.audit import AuditAction, record_audit_event
from accounts.models import Card, StaffUser
from accounts.pii import card_network_reference
from debits.gateways import GatewayError, get_gateway
from debits.labels import coded
from debits.models import Alert, Mandate, MandateSync
from debits.services.alerts import raise_alert, resolve_cleared_alerts

# Only mandates that may still be collected carry a live agreement worth binding.
RESYNCABLE_STATES = Mandate.LIVE_STATES

_ERROR_MESSAGE_LIMIT = 300
# A sync still pending after this long was interrupted (its worker died): far
# longer than any gateway timeout, so no live attempt is ever closed early.
INTERRUPTED_SYNC_AFTER_SECONDS = 15 * 60


class MandateNotResyncable(Exception):
    """The mandate is cancelled or failed: there is no agreement left to bind."""


def resync_mandate(
    *,
    mandate: Mandate,
    trigger: str = MandateSync.Trigger.MANUAL,
    actor: StaffUser | None = None,
) -> MandateSync:
    """Bind the mandate's agreement to its card's current credential version.

    Returns the ``MandateSync`` row recording the attempt: ``succeeded``,
    ``already_in_sync`` (nothing to do, or a concurrent re-sync got there
    first) or ``failed`` with the gateway's error code ("timeout",
    "gateway_unavailable"); gateway errors are recorded, never raised, and the
    caller decides whether to retry (the task does, with backoff).

    Three short steps rather than one transaction: (1) lock the mandate row,
    compare versions, write the pending sync row, commit; (2) call the gateway
    with no transaction open, so a slow network never holds a row lock or a
    connection that the debit run needs; (3) a conditional UPDATE that only
    moves ``synced_credential_version`` forward. Two concurrent re-syncs may
    both reach step 2, but binding one version is idempotent at the gateway
    (same token back), so they end with one binding, and step 3 lets exactly
    one of them record it. A re-sync that bound an older version than a later
    one already recorded can therefore never take the mandate backwards.
    """
    sync, target, card_reference = _open_sync(mandate=mandate, trigger=trigger, actor=actor)
    if sync.outcome != MandateSync.Outcome.PENDING:
        return sync

    started = time.monotonic()
    try:
        binding = get_gateway().bind_agreement(
            mandate_reference=mandate.reference,
            card_reference=card_reference,
            account_fingerprint=mandate.settlement_account_fingerprint,
            credential_version=target,
        )
    except GatewayError as exc:
        return _finish_failed(
            sync=sync, mandate=mandate, actor=actor, error=exc, latency_ms=_ms_since(started)
        )
    return _finish_bound(
        sync=sync,
        mandate=mandate,
        actor=actor,
        token=binding.agreement_token,
        version=binding.credential_version,
        latency_ms=_ms_since(started),
    )


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


@transaction.atomic
def _open_sync(
    *, mandate: Mandate, trigger: str, actor: StaffUser | None
) -> tuple[MandateSync, int, str]:
    """Returns the sync row, the version to bind and the card's network reference."""
    locked = Mandate.objects.select_for_update().get(pk=mandate.pk)
    # Read fresh: the caller's card instance may predate the change being synced.
    card = Card.objects.only("credential_version", "number_fingerprint").get(pk=locked.card_id)
    target = card.credential_version
    card_reference = card_network_reference(card.number_fingerprint)
    now = timezone.now()
    if locked.state not in RESYNCABLE_STATES:
        raise MandateNotResyncable(f"Mandate {locked.reference} is {locked.get_state_display()}")
    if locked.is_in_sync_with(card):
        sync = MandateSync.objects.create(
            mandate=locked,
            target_credential_version=target,
            trigger=trigger,
            requested_by=actor if actor and actor.is_authenticated else None,
            requested_at=now,
            finished_at=now,
            outcome=MandateSync.Outcome.ALREADY_IN_SYNC,
            latency_ms=0,
        )
        record_audit_event(
            actor=actor,
            action=AuditAction.MANDATE_RESYNC_SKIPPED,
            target=locked,
            summary={"credential_version": target, "trigger": trigger},
        )
        return sync, target, card_reference
    sync = MandateSync.objects.create(
        mandate=locked,
        target_credential_version=target,
        trigger=trigger,
        requested_by=actor if actor and actor.is_authenticated else None,
        requested_at=now,
    )
    return sync, target, card_reference


@transaction.atomic
def _finish_bound(
    *,
    sync: MandateSync,
    mandate: Mandate,
    actor: StaffUser | None,
    token: str,
    version: int,
    latency_ms: int,
) -> MandateSync:
    now = timezone.now()
    previous = (
        Mandate.objects.values_list("synced_credential_version", flat=True)
        .filter(pk=mandate.pk)
        .first()
    )
    # The state is part of the guard: the mandate may have been cancelled (or have
    # failed) while the gateway was binding, and a closed mandate keeps the token
    # it had; the cancelling transaction's row lock makes this UPDATE wait for it.
    live = Mandate.objects.filter(pk=mandate.pk, state__in=RESYNCABLE_STATES)
    moved = live.filter(synced_credential_version__lt=version).update(
        gateway_agreement_token=token,
        synced_credential_version=version,
        synced_at=now,
        sync_failed_at=None,
        sync_failure_reason="",
    )
    if not moved and not live.exists():
        return _finish_closed(sync=sync, mandate=mandate, actor=actor, latency_ms=latency_ms)
    sync.outcome = MandateSync.Outcome.SUCCEEDED if moved else MandateSync.Outcome.ALREADY_IN_SYNC
    sync.finished_at = now
    sync.latency_ms = latency_ms
    sync.save(update_fields=["outcome", "finished_at", "latency_ms"])
    if moved:
        _resolve_open_failure_alert(mandate_id=mandate.pk, now=now)
    mandate.refresh_from_db(
        fields=[
            "gateway_agreement_token",
            "synced_credential_version",
            "synced_at",
            "sync_failed_at",
            "sync_failure_reason",
        ]
    )
    record_audit_event(
        actor=actor,
        action=(AuditAction.MANDATE_RESYNCED if moved else AuditAction.MANDATE_RESYNC_SKIPPED),
        target=mandate,
        summary={
            "from_version": previous,
            "to_version": version,
            "trigger": sync.trigger,
            "latency_ms": latency_ms,
        },
    )
    return sync


# A binding that came back after its mandate was closed: recorded, never applied.
MANDATE_CLOSED = "mandate_closed"


def _finish_closed(
    *, sync: MandateSync, mandate: Mandate, actor: StaffUser | None, latency_ms: int
) -> MandateSync:
    state = Mandate.objects.values_list("state", flat=True).get(pk=mandate.pk)
    sync.outcome = MandateSync.Outcome.FAILED
    sync.finished_at = timezone.now()
    sync.latency_ms = latency_ms
    sync.error_code = MANDATE_CLOSED
    sync.error_message = f"The mandate became {state} while the gateway was binding it."
    sync.save(update_fields=["outcome", "finished_at", "latency_ms", "error_code", "error_message"])
    mandate.refresh_from_db(
        fields=["state", "gateway_agreement_token", "synced_credential_version"]
    )
    record_audit_event(
        actor=actor,
        action=AuditAction.MANDATE_RESYNC_FAILED,
        target=mandate,
        summary={
            "credential_version": sync.target_credential_version,
            "trigger": sync.trigger,
            "error_code": MANDATE_CLOSED,
            "state": state,
        },
    )
    return sync


@transaction.atomic
def _finish_failed(
    *,
    sync: MandateSync,
    mandate: Mandate,
    actor: StaffUser | None,
    error: GatewayError,
    latency_ms: int,
) -> MandateSync:
    sync.outcome = MandateSync.Outcome.FAILED
    sync.finished_at = timezone.now()
    sync.latency_ms = latency_ms
    sync.error_code = error.code
    sync.error_message = str(error)[:_ERROR_MESSAGE_LIMIT]
    sync.save(update_fields=["outcome", "finished_at", "latency_ms", "error_code", "error_message"])
    record_audit_event(
        actor=actor,
        action=AuditAction.MANDATE_RESYNC_FAILED,
        target=mandate,
        summary={
            "credential_version": sync.target_credential_version,
            "trigger": sync.trigger,
            "error_code": error.code,
        },
    )
    return sync


def _resolve_open_failure_alert(*, mandate_id: int, now) -> None:
    resolve_cleared_alerts(
        dedup_keys=[resync_alert_key(mandate_id)], note="The mandate was re-synced."
    )


def resync_alert_key(mandate_id: int) -> str:
    return f"resync_failed:mandate:{mandate_id}"


@transaction.atomic
def mark_mandate_sync_failed(
    *, mandate: Mandate, reason: str, attempts: int | None = None
) -> Mandate:
    """Re-sync retries ran out: flag the mandate and tell operations.

    ``reason`` is the last error's code (``SYNC_ERROR_LABELS``, so every page names
    it in the reader's language), or a few words; ``attempts`` how many tries it had.
    Only flags a mandate that is still behind its card; if a later re-sync
    caught up meanwhile there is nothing to raise.
    """
    now = timezone.now()
    card_version = Card.objects.values_list("credential_version", flat=True).get(pk=mandate.card_id)
    flagged = (
        Mandate.objects.filter(pk=mandate.pk)
        .out_of_sync()
        .update(sync_failed_at=now, sync_failure_reason=reason[:200])
    )
    mandate.refresh_from_db(fields=["sync_failed_at", "sync_failure_reason"])
    if not flagged:
        return mandate
    record_audit_event(
        actor=None,
        action=AuditAction.MANDATE_SYNC_FAILED,
        target=mandate,
        summary={"credential_version": card_version, "reason": reason[:200], "attempts": attempts},
    )
    params = {
        "mandate": mandate.reference,
        "version": card_version,
        "reason": coded("sync_error", reason[:200]),
    }
    if attempts is None:
        message = gettext_noop(
            "Mandate %(mandate)s could not be re-synced to credential version %(version)s: "
            "%(reason)s"
        )
    else:
        params["attempts"] = attempts
        message = gettext_noop(
            "Mandate %(mandate)s could not be re-synced to credential version %(version)s "
            "after %(attempts)s attempt(s): %(reason)s"
        )
    raise_alert(
        kind=Alert.Kind.RESYNC_FAILED,
        dedup_key=resync_alert_key(mandate.pk),
        severity=Alert.Severity.CRITICAL,
        mandate=mandate,
        message=message,
        params=params,
    )
    return mandate


def close_interrupted_syncs(*, older_than_seconds: int = INTERRUPTED_SYNC_AFTER_SECONDS) -> int:
    """Record as failed the sync attempts a killed worker left pending forever.

    Only the history is corrected: the mandate itself is repaired by the outbox
    sweeper or the debit pre-flight, which look at versions, not at these rows.
    """
    cutoff = timezone.now() - timezone.timedelta(seconds=older_than_seconds)
    closed = MandateSync.objects.filter(
        outcome=MandateSync.Outcome.PENDING, requested_at__lt=cutoff
    ).update(
        outcome=MandateSync.Outcome.FAILED,
        finished_at=timezone.now(),
        error_code="interrupted",
        error_message="The worker stopped before the gateway answered.",
    )
    if closed:
        record_audit_event(
            actor=None,
            action=AuditAction.MANDATE_SYNC_INTERRUPTED_CLOSED,
            object_type="debits.mandatesync",
            summary={"closed": closed, "older_than_seconds": older_than_seconds},
        )
    return closed
