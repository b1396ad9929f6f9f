"""Operations' brakes: pausing and resuming collection for the book, a card or a mandate."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.audit import AuditAction, record_audit_event
from accounts.models import Card, StaffUser
from debits.models import CollectionPause, Mandate


class CollectionControlError(Exception):
    """A pause or resume that cannot be done (shown to staff as a message)."""


def _target_filter(*, scope: str, card: Card | None, mandate: Mandate | None) -> dict:
    if scope == CollectionPause.Scope.BOOK:
        if card is not None or mandate is not None:
            raise CollectionControlError("A pause of the whole book names no card or mandate")
        return {}
    if scope == CollectionPause.Scope.CARD:
        if card is None or mandate is not None:
            raise CollectionControlError("A card pause names exactly one card")
        return {"card": card}
    if scope == CollectionPause.Scope.MANDATE:
        if mandate is None or card is not None:
            raise CollectionControlError("A mandate pause names exactly one mandate")
        return {"mandate": mandate}
    raise CollectionControlError(f"Unknown scope: {scope}")


def _require(actor: StaffUser) -> None:
    if not actor.has_perm("debits.pause_collection"):
        raise CollectionControlError("You may not pause or resume collection")


def _checked_request(
    scope: str,
    card: Card | None,
    mandate: Mandate | None,
    reason: str,
    actor: StaffUser,
    missing_reason: str,
) -> tuple[dict, str]:
    """(the pause's target filter, the stripped reason) once the actor and input are valid."""
    _require(actor)
    target = _target_filter(scope=scope, card=card, mandate=mandate)
    reason = (reason or "").strip()
    if not reason:
        raise CollectionControlError(missing_reason)
    return target, reason


def _record(*, action: str, pause: CollectionPause, actor: StaffUser, reason: str) -> None:
    record_audit_event(
        actor=actor,
        action=action,
        target=pause,
        summary={"scope": pause.scope, "card": pause.card_id, "mandate": pause.mandate_id},
        reason=reason[:300],
    )


@transaction.atomic
def pause_collection(
    *,
    scope: str,
    card: Card | None = None,
    mandate: Mandate | None = None,
    reason: str,
    actor: StaffUser,
) -> CollectionPause:
    """Stop debits for the scope until resumed; runs skip it with this reason."""
    target, reason = _checked_request(scope, card, mandate, reason, actor, "A pause needs a reason")
    try:
        with transaction.atomic():
            pause = CollectionPause.objects.create(
                scope=scope, reason=reason[:300], paused_by=actor, **target
            )
    except IntegrityError as exc:
        # The partial unique indexes allow one open pause per target.
        raise CollectionControlError("Collection is already paused there") from exc
    _record(action=AuditAction.COLLECTION_PAUSED, pause=pause, actor=actor, reason=reason)
    return pause


@transaction.atomic
def resume_collection(
    *,
    scope: str,
    card: Card | None = None,
    mandate: Mandate | None = None,
    reason: str,
    actor: StaffUser,
) -> CollectionPause:
    """End the open pause of the scope; the next run collects there again."""
    target, reason = _checked_request(
        scope, card, mandate, reason, actor, "Resuming needs a reason"
    )
    pause = (
        CollectionPause.objects.select_for_update()
        .filter(scope=scope, resumed_at__isnull=True, **target)
        .first()
    )
    if pause is None:
        raise CollectionControlError("Collection is not paused there")
    pause.resumed_at = timezone.now()
    pause.resumed_by = actor
    pause.save(update_fields=["resumed_at", "resumed_by"])
    _record(action=AuditAction.COLLECTION_RESUMED, pause=pause, actor=actor, reason=reason)
    return pause
