"""The card's timeline: everything that happened to a card, oldest first, in one list.

Credential changes and resets, mandate re-syncs, debit attempts, fees charged
and waived, collection pauses, notices sent, alerts raised and staff actions.
Built with one query per kind of record (a fixed number however long the
history); the diagnosis rules read the same rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import (
    AuditEvent,
    Card,
    CustomerNotice,
    PasswordChange,
    PasswordResetRequest,
    StaffUser,
)
from backoffice.complaints.plain_words import failure_in_words
from backoffice.ui.labels import code_label, format_yuan
from debits.models import Alert, CollectionPause, DebitAttempt, LateFee, Mandate, MandateSync

TIMELINE_DAYS = 90

# Audit actions whose record already has its own line on the timeline.
_SHOWN_BY_THEIR_OWN_ROW = frozenset(
    {
        "card.password_changed",
        "password_reset.started",
        "mandate.resynced",
        "mandate.resync_failed",
        "collection.paused",
        "collection.resumed",
        "late_fee.waiver_requested",
        "late_fee.waiver_approved",
        "late_fee.waived",
    }
)


@dataclass(frozen=True)
class TimelineEntry:
    at: dt.datetime
    kind: str  # credential_change, reset, sync, debit, fee, fee_waived, pause, notice, ...
    text: str
    actor: StaffUser | None = None
    bad: bool = False
    record: object = None


@dataclass
class CardTimeline:
    card: Card | None  # None for several cards (a customer's)
    since: dt.datetime
    mandates: list[Mandate]
    password_changes: list[PasswordChange]
    resets: list[PasswordResetRequest]
    syncs: list[MandateSync]
    attempts: list[DebitAttempt]
    fees: list[LateFee]
    pauses: list[CollectionPause]
    notices: list[CustomerNotice]
    alerts: list[Alert]
    staff_actions: list[AuditEvent]
    entries: list[TimelineEntry] = field(default_factory=list)

    def staff_involved(self, *, until: dt.datetime) -> dict[int, list[str]]:
        """Staff who acted on the card up to ``until``: id -> what they did (for conflicts)."""
        involved: dict[int, list[str]] = {}
        for entry in self.entries:
            handling = (
                isinstance(entry.record, AuditEvent)
                and entry.record.object_type == "complaints.complaint"
            )
            if entry.actor is not None and entry.at <= until and not handling:
                involved.setdefault(entry.actor.pk, []).append(entry.text)
        return involved


def _who(user: StaffUser | None) -> str:
    return (user.get_full_name() or user.username) if user else ""


def _local(moment: dt.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def card_timeline(card: Card, *, since: dt.datetime | None = None) -> CardTimeline:
    """The card's history since ``since`` (default: the last 90 days), in eleven queries."""
    return _timeline([card], since=since)


def cards_timeline(cards: list[Card], *, since: dt.datetime | None = None) -> CardTimeline:
    """The history of several cards (a customer's) in one list, in eleven queries too."""
    return _timeline(cards, since=since)


def _timeline(cards: list[Card], *, since: dt.datetime | None) -> CardTimeline:
    since = since or timezone.now() - dt.timedelta(days=TIMELINE_DAYS)
    card = cards[0] if len(cards) == 1 else None
    card_ids = [c.pk for c in cards]
    mandates = list(
        Mandate.objects.filter(card_id__in=card_ids).select_related("loan", "card").order_by("pk")
    )
    mandate_ids = [m.pk for m in mandates]
    timeline = CardTimeline(
        card=card,
        since=since,
        mandates=mandates,
        password_changes=list(
            PasswordChange.objects.filter(card_id__in=card_ids, changed_at__gte=since)
            .select_related("actor")
            .order_by("changed_at", "pk")
        ),
        resets=list(
            PasswordResetRequest.objects.filter(card_id__in=card_ids, created_at__gte=since)
            .select_related("requested_by", "approved_by")
            .order_by("created_at", "pk")
        ),
        syncs=list(
            MandateSync.objects.filter(mandate_id__in=mandate_ids, requested_at__gte=since)
            .select_related("requested_by")
            .order_by("requested_at", "pk")
        ),
        attempts=list(
            DebitAttempt.objects.filter(mandate_id__in=mandate_ids, created_at__gte=since)
            .select_related("instalment")
            .order_by("created_at", "pk")
        ),
        fees=list(
            LateFee.objects.filter(instalment__loan__card_id__in=card_ids)
            .filter(Q(accrued_at__gte=since) | Q(waived_at__gte=since))
            .select_related("instalment", "waiver_requested_by", "waiver_approved_by")
            .order_by("accrued_at", "pk")
        ),
        pauses=list(
            CollectionPause.objects.filter(Q(card_id__in=card_ids) | Q(mandate_id__in=mandate_ids))
            .filter(Q(paused_at__gte=since) | Q(resumed_at__gte=since))
            .select_related("paused_by", "resumed_by")
            .order_by("paused_at", "pk")
        ),
        notices=list(
            CustomerNotice.objects.filter(card_id__in=card_ids, created_at__gte=since).order_by(
                "created_at", "pk"
            )
        ),
        alerts=list(
            Alert.objects.filter(Q(card_id__in=card_ids) | Q(mandate_id__in=mandate_ids))
            .filter(raised_at__gte=since)
            .order_by("raised_at", "pk")
        ),
        staff_actions=[],
    )
    fee_ids = [str(fee.pk) for fee in timeline.fees]
    from backoffice.complaints.models import Complaint

    # The complaints' own audit trail belongs on the card's timeline too.
    complaint_ids = [
        str(pk)
        for pk in Complaint.objects.filter(card_id__in=card_ids).values_list("pk", flat=True)
    ]
    timeline.staff_actions = list(
        AuditEvent.objects.filter(occurred_at__gte=since, actor__isnull=False)
        .filter(
            Q(object_type="accounts.card", object_id__in=[str(pk) for pk in card_ids])
            | Q(object_type="debits.mandate", object_id__in=[str(pk) for pk in mandate_ids])
            | Q(object_type="debits.latefee", object_id__in=fee_ids)
            | Q(object_type="complaints.complaint", object_id__in=complaint_ids)
        )
        .exclude(action__in=_SHOWN_BY_THEIR_OWN_ROW)
        .select_related("actor")
        .order_by("occurred_at", "pk")
    )
    timeline.entries = _entries(timeline)
    return timeline


def _in_words(code: str) -> str:
    english, chinese = failure_in_words(code)
    return chinese if (translation.get_language() or "").startswith("zh") else english


def _entries(t: CardTimeline) -> list[TimelineEntry]:
    """The lines of the timeline, worded in the active language (the viewer's)."""
    by_mandate = {m.pk: m for m in t.mandates}
    entries: list[TimelineEntry] = []
    for change in t.password_changes:
        text = _("%(kind)s changed through %(channel)s (credential version %(version)d)") % {
            "kind": change.get_kind_display(),
            "channel": change.get_channel_display(),
            "version": change.credential_version,
        }
        if change.actor:
            text += _(", reset started by %(name)s") % {"name": _who(change.actor)}
        entries.append(
            TimelineEntry(
                change.changed_at, "credential_change", text, actor=change.actor, record=change
            )
        )
    for reset in t.resets:
        entries.append(
            TimelineEntry(
                reset.created_at,
                "reset",
                _("Password reset started by %(name)s after %(method)s")
                % {
                    "name": _who(reset.requested_by),
                    "method": reset.get_verification_method_display(),
                },
                actor=reset.requested_by,
                record=reset,
            )
        )
    for sync in t.syncs:
        words = {
            "mandate": by_mandate[sync.mandate_id].reference,
            "version": sync.target_credential_version,
            "error": code_label(sync.error_code, "sync_error") or _("error"),
            "trigger": sync.get_trigger_display(),
        }
        if sync.outcome == MandateSync.Outcome.SUCCEEDED and sync.latency_ms is not None:
            words["ms"] = sync.latency_ms
            text = _("Mandate %(mandate)s re-synced to version %(version)d in %(ms)d ms")
        else:
            text = {
                MandateSync.Outcome.SUCCEEDED: _(
                    "Mandate %(mandate)s re-synced to version %(version)d"
                ),
                MandateSync.Outcome.ALREADY_IN_SYNC: _("Mandate %(mandate)s already in sync"),
                MandateSync.Outcome.FAILED: _("Re-sync of mandate %(mandate)s failed (%(error)s)"),
                MandateSync.Outcome.PENDING: _("Re-sync of mandate %(mandate)s requested"),
            }[sync.outcome]
        entries.append(
            TimelineEntry(
                sync.requested_at,
                "sync",
                (text + " (%(trigger)s)") % words,
                actor=sync.requested_by,
                bad=sync.outcome == MandateSync.Outcome.FAILED,
                record=sync,
            )
        )
    for attempt in t.attempts:
        words = {
            "amount": format_yuan(attempt.amount),
            "sequence": attempt.instalment.sequence,
            "state": attempt.get_state_display(),
        }
        if attempt.state == DebitAttempt.State.FAILED:
            words["why"] = _in_words(attempt.failure_code)
            text = _("Debit of %(amount)s for instalment #%(sequence)d failed: %(why)s") % words
        else:
            text = _("Debit of %(amount)s for instalment #%(sequence)d: %(state)s") % words
        entries.append(
            TimelineEntry(
                attempt.created_at,
                "debit",
                text,
                bad=attempt.state == DebitAttempt.State.FAILED,
                record=attempt,
            )
        )
    for fee in t.fees:
        words = {
            "amount": format_yuan(fee.amount),
            "sequence": fee.instalment.sequence,
            "reason": fee.waiver_reason,
        }
        entries.append(
            TimelineEntry(
                fee.accrued_at,
                "fee",
                _("Late fee of %(amount)s charged on instalment #%(sequence)d") % words,
                bad=True,
                record=fee,
            )
        )
        if fee.waived_at is not None or fee.state == LateFee.State.WAIVER_PENDING:
            who = fee.waiver_approved_by or fee.waiver_requested_by
            text = (
                _("Late fee of %(amount)s waived: %(reason)s")
                if fee.state == LateFee.State.WAIVED
                else _("Late fee of %(amount)s waiver requested: %(reason)s")
            )
            entries.append(
                TimelineEntry(
                    fee.waived_at or fee.accrued_at,
                    "fee_waived",
                    text % words,
                    actor=who,
                    record=fee,
                )
            )
    for pause in t.pauses:
        entries.append(
            TimelineEntry(
                pause.paused_at,
                "pause",
                _("Collection paused (%(scope)s) by %(name)s: %(reason)s")
                % {
                    "scope": pause.get_scope_display(),
                    "name": _who(pause.paused_by),
                    "reason": pause.reason,
                },
                actor=pause.paused_by,
                record=pause,
            )
        )
        if pause.resumed_at:
            entries.append(
                TimelineEntry(
                    pause.resumed_at,
                    "pause",
                    _("Collection resumed by %(name)s") % {"name": _who(pause.resumed_by)},
                    actor=pause.resumed_by,
                    record=pause,
                )
            )
    for notice in t.notices:
        words = {
            "subject": notice.subject,
            "channel": code_label(notice.channel, "channel"),
            "when": _local(notice.sent_at) if notice.sent_at else "",
        }
        text = (
            _("Notice to the customer: %(subject)s (%(channel)s, sent %(when)s)")
            if notice.sent_at
            else _("Notice to the customer: %(subject)s (%(channel)s, waiting to be sent)")
        )
        entries.append(TimelineEntry(notice.created_at, "notice", text % words, record=notice))
    for alert in t.alerts:
        entries.append(
            TimelineEntry(
                alert.raised_at,
                "alert",
                _("Alert: %(message)s") % {"message": alert.translated_message},
                bad=True,
                record=alert,
            )
        )
    for event in t.staff_actions:
        text = f"{_who(event.actor)}: {code_label(event.action, 'audit_action')}"
        if event.reason:
            text += f" ({event.reason})"
        entries.append(
            TimelineEntry(event.occurred_at, "staff_action", text, actor=event.actor, record=event)
        )
    entries.sort(key=lambda entry: entry.at)
    return entries
