"""Alerts for operations: what a job could not repair by itself.

One open alert per problem and subject (its ``dedup_key``, guarded by a partial
unique index): finding it again counts one more occurrence and moves
``last_seen_at``. A person acknowledges it (takes it on); it is resolved by the
detector when the condition clears, or by a person with a note. Every change is
audited, and a new critical alert is mailed to operations after commit.
"""

import logging
from collections.abc import Iterable

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext

from accounts.audit import AuditAction, record_audit_event
from accounts.models import Card, StaffUser
from debits.labels import value_as_raised
from debits.models import Alert, Mandate

logger = logging.getLogger(__name__)

PERMISSION_HANDLE_ALERT = "debits.change_alert"
# The severities that page operations by email when they are first raised.
EMAILED_SEVERITIES = frozenset({Alert.Severity.CRITICAL})


class AlertError(Exception):
    """An alert action the rules refuse; the message is for the person."""


def _mail_operations(alert_id: int) -> None:
    """After commit: tell operations about a new critical alert. A mail server that
    is down must not undo the alert, so failures are logged, not raised."""
    recipients = list(settings.OPERATIONS_ALERT_EMAILS)
    if not recipients:
        return
    alert = Alert.objects.filter(pk=alert_id).first()
    if alert is None:
        return
    # In the bank's language, as the duty team reads it; the English as raised follows
    # when it differs, for whoever the mail is forwarded to.
    with translation.override(settings.LANGUAGE_CODE):
        text = alert.translated_message
        english = f"\n\n{alert.message}" if text != alert.message else ""
        subject = f"[{alert.get_severity_display()}] {alert.get_kind_display()}"
        body = (
            f"{text}{english}\n\n"
            + gettext("First seen %(when)s.")
            % {"when": f"{timezone.localtime(alert.raised_at):%Y-%m-%d %H:%M:%S %Z}"}
            + "\n"
            + gettext("Operations dashboard: %(url)s")
            % {"url": f"{settings.PUBLIC_BASE_URL.rstrip('/')}/operations/"}
            + "\n"
        )
    try:
        send_mail(
            subject=subject,
            message=body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=recipients,
        )
    except OSError:
        logger.exception("alert %s: the mail to operations could not be sent", alert_id)


@transaction.atomic
def raise_alert(
    *,
    kind: str,
    dedup_key: str,
    message: str,
    params: dict | None = None,
    severity: str = Alert.Severity.WARNING,
    card: Card | None = None,
    mandate: Mandate | None = None,
) -> Alert:
    """Open an alert, or count one more occurrence of the same open condition.

    ``message`` is English, marked for translation (``gettext_noop``), with
    ``%(name)s`` placeholders filled from ``params`` (JSON values; a code as
    ``coded(...)``, so a reader sees its label): the alert keeps both, so the
    dashboard shows it in each reader's language.

    The partial unique index on open ``dedup_key`` decides a race between two
    raisers: the loser bumps the winner's alert instead of adding a second.
    """
    now = timezone.now()
    params = params or {}
    as_raised = {key: value_as_raised(value) for key, value in params.items()}
    wording = {
        "message": (message % as_raised if params else message)[:300],
        "message_template": message if len(message) <= 300 else "",
        "message_params": params,
    }
    updated = Alert.objects.filter(dedup_key=dedup_key, resolved_at__isnull=True).update(
        occurrences=F("occurrences") + 1, last_seen_at=now, **wording
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
                    raised_at=now,
                    last_seen_at=now,
                    **wording,
                )
        except IntegrityError:
            Alert.objects.filter(dedup_key=dedup_key, resolved_at__isnull=True).update(
                occurrences=F("occurrences") + 1, last_seen_at=now, **wording
            )
        else:
            record_audit_event(
                actor=None,
                action=AuditAction.ALERT_RAISED,
                target=alert,
                summary={"kind": kind, "dedup_key": dedup_key, "severity": severity},
            )
            if severity in EMAILED_SEVERITIES:
                transaction.on_commit(lambda: _mail_operations(alert.pk))
            return alert
    return Alert.objects.get(dedup_key=dedup_key, resolved_at__isnull=True)


def _check_handler(actor: StaffUser) -> None:
    if not actor.is_authenticated or not actor.has_perm(PERMISSION_HANDLE_ALERT):
        raise AlertError("You may not acknowledge or resolve alerts.")


@transaction.atomic
def acknowledge_alert(*, alert: Alert, actor: StaffUser) -> Alert:
    """A person takes the alert on. Acknowledging twice keeps the first person."""
    _check_handler(actor)
    now = timezone.now()
    taken = Alert.objects.filter(
        pk=alert.pk, resolved_at__isnull=True, acknowledged_at__isnull=True
    ).update(acknowledged_at=now, acknowledged_by=actor)
    alert.refresh_from_db(fields=["acknowledged_at", "acknowledged_by", "resolved_at"])
    if not taken:
        if alert.resolved_at is not None:
            raise AlertError("This alert is already resolved.")
        return alert
    record_audit_event(
        actor=actor,
        action=AuditAction.ALERT_ACKNOWLEDGED,
        target=alert,
        summary={"kind": alert.kind, "dedup_key": alert.dedup_key},
    )
    return alert


@transaction.atomic
def resolve_alert(*, alert: Alert, actor: StaffUser, note: str) -> Alert:
    """A person closes the alert, saying what was done. The same condition found
    again later opens a new alert."""
    _check_handler(actor)
    note = note.strip()
    if not note:
        raise AlertError("Say what was done: a resolution needs a note.")
    now = timezone.now()
    closed = Alert.objects.filter(pk=alert.pk, resolved_at__isnull=True).update(
        resolved_at=now, resolved_by=actor, resolution_note=note[:300]
    )
    if not closed:
        raise AlertError("This alert is already resolved.")
    alert.refresh_from_db(fields=["resolved_at", "resolved_by", "resolution_note"])
    record_audit_event(
        actor=actor,
        action=AuditAction.ALERT_RESOLVED,
        target=alert,
        summary={"kind": alert.kind, "dedup_key": alert.dedup_key, "by": "staff"},
        reason=note[:300],
    )
    return alert


@transaction.atomic
def resolve_cleared_alerts(*, dedup_keys: Iterable[str], note: str) -> int:
    """The system closes open alerts whose condition a detector no longer finds."""
    keys = list(dedup_keys)
    if not keys:
        return 0
    now = timezone.now()
    cleared = list(
        Alert.objects.select_for_update()
        .filter(dedup_key__in=keys, resolved_at__isnull=True)
        .values_list("pk", "kind", "dedup_key")
    )
    if not cleared:
        return 0
    Alert.objects.filter(pk__in=[pk for pk, _, _ in cleared]).update(
        resolved_at=now, resolution_note=note[:300]
    )
    for pk, kind, key in cleared:
        record_audit_event(
            actor=None,
            action=AuditAction.ALERT_RESOLVED,
            object_type="debits.alert",
            object_id=pk,
            summary={"kind": kind, "dedup_key": key, "by": "system"},
            reason=note[:300],
        )
    return len(cleared)


def resolve_cleared_alerts_of_kind(*, kind: str, still_found: Iterable[str], note: str) -> int:
    """Close every open alert of a detector's kind that its latest pass did not find."""
    found = set(still_found)
    open_keys = Alert.objects.filter(kind=kind, resolved_at__isnull=True).values_list(
        "dedup_key", flat=True
    )
    return resolve_cleared_alerts(dedup_keys=[k for k in open_keys if k not in found], note=note)
