"""Raising alerts for operations: what a job could not repair by itself."""

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts.audit import AuditAction, record_audit_event
from accounts.models import Card
from debits.models import Alert, Mandate


@transaction.atomic
def raise_alert(
    *,
    kind: str,
    dedup_key: str,
    message: str,
    severity: str = Alert.Severity.WARNING,
    card: Card | None = None,
    mandate: Mandate | None = None,
) -> Alert:
    """Open an alert, or count one more occurrence of the same open condition.

    The partial unique index on open ``dedup_key`` decides a race between two
    raisers: the loser bumps the winner's alert instead of adding a second.
    """
    now = timezone.now()
    updated = Alert.objects.filter(dedup_key=dedup_key, resolved_at__isnull=True).update(
        occurrences=F("occurrences") + 1, last_seen_at=now, message=message[:300]
    )
    if not updated:
        try:
            with transaction.atomic():
                alert = Alert.objects.create(
                    kind=kind,
                    severity=severity,
                    dedup_key=dedup_key,
                    card=card or (mandate.card if mandate else None),
                    mandate=mandate,
                    message=message[:300],
                    raised_at=now,
                    last_seen_at=now,
                )
        except IntegrityError:
            Alert.objects.filter(dedup_key=dedup_key, resolved_at__isnull=True).update(
                occurrences=F("occurrences") + 1, last_seen_at=now, message=message[:300]
            )
        else:
            record_audit_event(
                actor=None,
                action=AuditAction.ALERT_RAISED,
                target=alert,
                summary={"kind": kind, "dedup_key": dedup_key},
            )
            return alert
    return Alert.objects.get(dedup_key=dedup_key, resolved_at__isnull=True)
