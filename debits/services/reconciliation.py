"""Reconciliation: detectors that find drift, repair what they can, and raise (or
resolve) one deduplicated alert for what they cannot.

Each detector returns a ``DetectorReport``; ``python manage.py reconcile`` runs
them all (or one, ``--only``), and django-celery-beat runs each on its own
schedule. Every detector is safe to run twice at once: repairs go through the
same idempotent services as the real-time path (re-sync binds a version once,
claims use ``skip_locked``), and alerts are deduplicated by the database.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_noop

from accounts.models import StaffUser
from debits.labels import coded
from debits.models import Alert, MandateSync
from debits.operations_selectors import out_of_sync_mandates
from debits.services.alerts import raise_alert, resolve_cleared_alerts
from debits.services.resync import MandateNotResyncable, resync_mandate

# Mandates re-synced per query page: small enough that one page's rows are cheap
# to hold, large enough that paging costs little next to the gateway calls.
STALE_MANDATE_PAGE = 200
DRIFT_ALERT_KEY = "mandate_drift:book"


@dataclass
class DetectorReport:
    """What one detector pass found, repaired, and raised or resolved."""

    detector: str
    found: int = 0
    repaired: int = 0
    alerts_raised: int = 0
    alerts_resolved: int = 0
    dry_run: bool = False
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "detector": self.detector,
            "found": self.found,
            "repaired": self.repaired,
            "alerts_raised": self.alerts_raised,
            "alerts_resolved": self.alerts_resolved,
            "dry_run": self.dry_run,
            "notes": self.notes,
        }


def _stale_mandates(*, older_than_seconds: int, now: dt.datetime):
    """Out of sync, and the card's credential changed longer ago than the grace period
    the real-time path (outbox, retries, sweeper) is given to catch up."""
    cutoff = now - dt.timedelta(seconds=older_than_seconds)
    # No change time at all (a version moved by another system) counts as stale.
    return out_of_sync_mandates().filter(
        Q(card__credential_changed_at__lte=cutoff) | Q(card__credential_changed_at__isnull=True)
    )


# A grace period longer than a year is a mistake, not a policy: refuse it.
MAX_LOOKBACK_SECONDS = 366 * 24 * 60 * 60


def reconcile_stale_mandates(
    *,
    older_than_seconds: int | None = None,
    actor: StaffUser | None = None,
    dry_run: bool = False,
    now: dt.datetime | None = None,
) -> DetectorReport:
    """Re-sync (trigger ``reconciliation``) every active mandate left behind its card.

    Pages through them by id (keyset), so a mass incident is worked through in
    bounded queries. Mandates still behind after the alert threshold raise one
    critical alert for the book (each mandate whose retries ran out also has its
    own ``resync_failed`` alert); it resolves when none is left behind that long.
    """
    if older_than_seconds is not None and (
        isinstance(older_than_seconds, bool)
        or not isinstance(older_than_seconds, int)
        or not 0 <= older_than_seconds <= MAX_LOOKBACK_SECONDS
    ):
        raise ValueError(f"older_than_seconds must be whole seconds, 0 to {MAX_LOOKBACK_SECONDS}")
    now = now or timezone.now()
    if older_than_seconds is None:
        older_than_seconds = settings.RECONCILIATION_STALE_MANDATE_AFTER_SECONDS
    report = DetectorReport(detector="stale_mandates", dry_run=dry_run)
    stale = _stale_mandates(older_than_seconds=older_than_seconds, now=now)
    after_id = 0
    while True:
        page = list(
            stale.filter(pk__gt=after_id).select_related("card").order_by("pk")[:STALE_MANDATE_PAGE]
        )
        if not page:
            break
        after_id = page[-1].pk
        report.found += len(page)
        if dry_run:
            continue
        for mandate in page:
            try:
                sync = resync_mandate(
                    mandate=mandate, trigger=MandateSync.Trigger.RECONCILIATION, actor=actor
                )
            except MandateNotResyncable as exc:
                report.notes.append(f"{mandate.reference}: {exc}")
                continue
            if sync.outcome != MandateSync.Outcome.FAILED:
                report.repaired += 1
    if dry_run:
        return report
    still_behind = _stale_mandates(
        older_than_seconds=max(
            older_than_seconds, settings.RECONCILIATION_DRIFT_ALERT_AFTER_SECONDS
        ),
        now=now,
    ).count()
    if still_behind:
        raise_alert(
            kind=Alert.Kind.MANDATE_DRIFT,
            dedup_key=DRIFT_ALERT_KEY,
            severity=Alert.Severity.CRITICAL,
            message=gettext_noop(
                "%(count)s active mandate(s) still bound to an old credential "
                "%(minutes)s minutes or more after the change; re-sync keeps failing."
            ),
            params={
                "count": still_behind,
                "minutes": settings.RECONCILIATION_DRIFT_ALERT_AFTER_SECONDS // 60,
            },
        )
        report.alerts_raised = 1
    else:
        report.alerts_resolved = resolve_cleared_alerts(
            dedup_keys=[DRIFT_ALERT_KEY], note="Every active mandate is in sync with its card."
        )
    return report


# --- Outbox events not processed in time ----------------------------------------------


def outbox_alert_key(event_id: int) -> str:
    return f"outbox_stuck:event:{event_id}"


def reconcile_outbox(*, dry_run: bool = False, now: dt.datetime | None = None) -> DetectorReport:
    """Credential-change events still unprocessed after ``OUTBOX_STUCK_AFTER_SECONDS``.

    An event whose card has no live mandate behind its version any more (the
    stale-mandate pass or the pre-flight re-bound them) is closed. The rest are
    dispatched again, and each one that has kept failing for twice the limit
    raises its own alert, resolved once the event is processed.
    """
    from accounts.models import OutboxEvent
    from debits.services.credential_changes import sweep_outbox

    now = now or timezone.now()
    report = DetectorReport(detector="outbox", dry_run=dry_run)
    limit = settings.OUTBOX_STUCK_AFTER_SECONDS
    stuck = list(
        OutboxEvent.objects.filter(
            processed_at__isnull=True,
            event_type=OutboxEvent.Type.CREDENTIAL_CHANGED,
            created_at__lte=now - dt.timedelta(seconds=limit),
        )
        .order_by("created_at", "pk")
        .values("pk", "payload", "created_at", "attempts")[:OUTBOX_EVENTS_PER_PASS]
    )
    report.found = len(stuck)
    if dry_run:
        return report
    lowest_bound = _lowest_bound_version_behind(stuck)
    still_stuck = []
    for event in stuck:
        card_id = int(event["payload"]["card_id"])
        lowest = lowest_bound.get(card_id)
        if lowest is None or lowest >= int(event["payload"]["credential_version"]):
            report.repaired += _close_outbox_event(event["pk"], card_id=card_id)
        else:
            still_stuck.append(event)
    if still_stuck:
        sweep_outbox(older_than_seconds=settings.OUTBOX_REDISPATCH_AFTER_SECONDS)
    alert_before = now - dt.timedelta(seconds=2 * limit)
    for event in still_stuck:
        if event["created_at"] > alert_before:
            continue
        raise_alert(
            kind=Alert.Kind.OUTBOX_STUCK,
            dedup_key=outbox_alert_key(event["pk"]),
            severity=Alert.Severity.CRITICAL,
            message=gettext_noop(
                "Credential change #%(event)s of card %(card)s (v%(version)s) unprocessed "
                "since %(since)s after %(attempts)s attempt(s)."
            ),
            params={
                "event": event["pk"],
                "card": event["payload"]["card_id"],
                "version": event["payload"]["credential_version"],
                "since": f"{timezone.localtime(event['created_at']):%Y-%m-%d %H:%M}",
                "attempts": event["attempts"],
            },
        )
        report.alerts_raised += 1
    open_keys = set(
        Alert.objects.filter(kind=Alert.Kind.OUTBOX_STUCK, resolved_at__isnull=True).values_list(
            "dedup_key", flat=True
        )
    )
    processed = OutboxEvent.objects.filter(
        pk__in=[int(key.rsplit(":", 1)[1]) for key in open_keys], processed_at__isnull=False
    ).values_list("pk", flat=True)
    report.alerts_resolved = resolve_cleared_alerts(
        dedup_keys=[outbox_alert_key(pk) for pk in processed],
        note="The credential change reached every mandate.",
    )
    return report


# Stuck events looked at per pass: a backlog bigger than this is an incident the
# alert already shows, and the next pass takes the rest.
OUTBOX_EVENTS_PER_PASS = 500


def _lowest_bound_version_behind(events: list[dict]) -> dict[int, int]:
    """card id -> the lowest version a live mandate of it is bound to, among those
    behind the card (absent: every live mandate is in sync)."""
    from django.db.models import Min

    from debits.models import Mandate

    card_ids = {int(e["payload"]["card_id"]) for e in events}
    return dict(
        Mandate.objects.filter(card_id__in=card_ids, state__in=Mandate.LIVE_STATES)
        .out_of_sync()
        .values("card_id")
        .annotate(v=Min("synced_credential_version"))
        .values_list("card_id", "v")
    )


@transaction.atomic
def _close_outbox_event(event_id: int, *, card_id: int) -> int:
    from accounts.audit import AuditAction, record_audit_event
    from accounts.models import OutboxEvent

    closed = OutboxEvent.objects.filter(pk=event_id, processed_at__isnull=True).update(
        processed_at=timezone.now(), last_error="closed by reconciliation: nothing behind"
    )
    if closed:
        record_audit_event(
            actor=None,
            action=AuditAction.OUTBOX_EVENT_RECONCILED,
            object_type="accounts.outboxevent",
            object_id=event_id,
            summary={"card_id": card_id},
        )
    return closed


# --- Failure rates per code against their trailing baseline --------------------------


def failure_rate_alert_key(code: str) -> str:
    return f"failure_rate:code:{code}"


def reconcile_failure_rates(
    *, dry_run: bool = False, now: dt.datetime | None = None
) -> DetectorReport:
    """Today's failures per code against the pooled rate of the trailing days
    (``debits.failure_rates`` explains the test). Three grouped queries."""
    from django.db.models import Count

    from debits.failure_rates import judge_failure_rate
    from debits.models import DebitAttempt

    now = now or timezone.now()
    report = DetectorReport(detector="failure_rates", dry_run=dry_run)
    today = timezone.make_aware(dt.datetime.combine(timezone.localdate(now), dt.time.min))
    baseline_start = today - dt.timedelta(days=settings.FAILURE_RATE_BASELINE_DAYS)
    settled = DebitAttempt.objects.filter(
        state__in=[DebitAttempt.State.SUCCEEDED, DebitAttempt.State.FAILED]
    )
    window = settled.filter(created_at__gte=today, created_at__lte=now)
    baseline = settled.filter(created_at__gte=baseline_start, created_at__lt=today)

    def failures_by_code(attempts) -> dict[str, int]:
        return dict(
            attempts.filter(state=DebitAttempt.State.FAILED)
            .values("failure_code")
            .annotate(n=Count("id"))
            .values_list("failure_code", "n")
        )

    debits_today = window.count()
    totals = baseline.aggregate(n=Count("id"))["n"]
    today_codes, baseline_codes = failures_by_code(window), failures_by_code(baseline)
    open_codes = {
        key.rsplit(":", 1)[1]
        for key in Alert.objects.filter(
            kind=Alert.Kind.FAILURE_RATE, resolved_at__isnull=True
        ).values_list("dedup_key", flat=True)
    }
    cleared = []
    for code in sorted(set(today_codes) | open_codes):
        verdict = judge_failure_rate(
            code=code,
            failures=today_codes.get(code, 0),
            debits=debits_today,
            baseline_failures=baseline_codes.get(code, 0),
            baseline_debits=totals,
        )
        if verdict.is_jump:
            report.found += 1
            if not dry_run:
                raise_alert(
                    kind=Alert.Kind.FAILURE_RATE,
                    dedup_key=failure_rate_alert_key(code),
                    severity=Alert.Severity.WARNING,
                    message=gettext_noop(
                        "%(code)s: %(failures)s of %(debits)s debits today (%(rate)s) "
                        "against %(baseline)s over the last %(days)s days (p = %(p)s)."
                    ),
                    params={
                        "code": coded("failure_code", code),
                        "failures": verdict.failures,
                        "debits": verdict.debits,
                        "rate": f"{verdict.rate:.1%}",
                        "baseline": f"{verdict.baseline_rate:.2%}",
                        "days": settings.FAILURE_RATE_BASELINE_DAYS,
                        "p": f"{verdict.p_value:.1e}",
                    },
                )
                report.alerts_raised += 1
        elif code in open_codes and verdict.reason != "low_volume":
            # Judged on enough debits and back within its baseline. Too few
            # debits so far today says nothing either way: the alert stays.
            cleared.append(failure_rate_alert_key(code))
    if not dry_run:
        report.alerts_resolved = resolve_cleared_alerts(
            dedup_keys=cleared, note="The failure rate is back within its baseline."
        )
    return report


# --- Cards whose credentials changed repeatedly ---------------------------------------


def repeated_changes_alert_key(card_id: int) -> str:
    return f"repeated_password_changes:card:{card_id}"


def reconcile_repeated_credential_changes(
    *, dry_run: bool = False, now: dt.datetime | None = None
) -> DetectorReport:
    """Cards with ``REPEATED_CREDENTIAL_CHANGES`` or more changes (any kind) within the
    window, counting only changes after a supervisor last cleared the card: flagged
    (the next staff reset needs a supervisor) and alerted. The alert resolves when a
    supervisor's reset clears the flag."""
    from django.db.models import Count, F

    from accounts.models import Card, PasswordChange
    from accounts.services import flag_repeated_credential_changes

    now = now or timezone.now()
    report = DetectorReport(detector="credential_changes", dry_run=dry_run)
    hours = settings.REPEATED_CREDENTIAL_CHANGES_WINDOW_HOURS
    bursts = list(
        PasswordChange.objects.filter(changed_at__gte=now - dt.timedelta(hours=hours))
        .filter(
            Q(card__credential_changes_reviewed_at__isnull=True)
            | Q(changed_at__gt=F("card__credential_changes_reviewed_at"))
        )
        .values("card_id")
        .annotate(n=Count("id"))
        .filter(n__gte=settings.REPEATED_CREDENTIAL_CHANGES)
        .values_list("card_id", "n")
    )
    report.found = len(bursts)
    if dry_run:
        return report
    cards = Card.objects.in_bulk([card_id for card_id, _ in bursts])
    for card_id, changes in bursts:
        card = cards[card_id]
        if flag_repeated_credential_changes(card=card, changes=changes, window_hours=hours):
            report.repaired += 1
        raise_alert(
            kind=Alert.Kind.REPEATED_PASSWORD_CHANGES,
            dedup_key=repeated_changes_alert_key(card_id),
            severity=Alert.Severity.WARNING,
            card=card,
            message=gettext_noop(
                "%(changes)s credential changes on card •••• %(last_four)s within %(hours)s h: "
                "possible fraud. The next staff reset needs a supervisor."
            ),
            params={"changes": changes, "last_four": card.last_four, "hours": hours},
        )
        report.alerts_raised += 1
    open_alerts = Alert.objects.filter(
        kind=Alert.Kind.REPEATED_PASSWORD_CHANGES, resolved_at__isnull=True
    ).values_list("dedup_key", "card__credential_changes_flagged_at")
    report.alerts_resolved = resolve_cleared_alerts(
        dedup_keys=[key for key, flagged_at in open_alerts if flagged_at is None],
        note="A supervisor reviewed the card and cleared the flag.",
    )
    return report


# --- Debit attempts without an outcome -------------------------------------------------

UNRESOLVED_ATTEMPTS_ALERT_KEY = "unknown_attempts:book"


def reconcile_unresolved_attempts(
    *, dry_run: bool = False, now: dt.datetime | None = None
) -> DetectorReport:
    """The janitor (``settle_unresolved_attempts``: each key asked of the network once,
    claimed with ``skip_locked``), then one alert while attempts stay without an
    outcome longer than ``UNRESOLVED_ATTEMPTS_ALERT_AFTER_SECONDS``."""
    from debits.models import DebitAttempt
    from debits.services.janitor import settle_unresolved_attempts

    now = now or timezone.now()
    report = DetectorReport(detector="attempts", dry_run=dry_run)
    stale_before = now - dt.timedelta(seconds=settings.DEBIT_SUBMITTED_STALE_AFTER_SECONDS)
    unresolved = DebitAttempt.objects.filter(
        Q(state=DebitAttempt.State.UNKNOWN)
        | Q(state=DebitAttempt.State.SUBMITTED, submitted_at__lt=stale_before)
    )
    report.found = unresolved.count()
    if dry_run or not report.found:
        if not dry_run:
            report.alerts_resolved = resolve_cleared_alerts(
                dedup_keys=[UNRESOLVED_ATTEMPTS_ALERT_KEY],
                note="Every debit attempt has an outcome.",
            )
        return report
    report.repaired = sum(settle_unresolved_attempts(now=now).values())
    old_before = now - dt.timedelta(seconds=settings.UNRESOLVED_ATTEMPTS_ALERT_AFTER_SECONDS)
    lingering = unresolved.filter(
        Q(submitted_at__lt=old_before) | Q(submitted_at__isnull=True, created_at__lt=old_before)
    ).count()
    if lingering:
        raise_alert(
            kind=Alert.Kind.UNKNOWN_ATTEMPTS,
            dedup_key=UNRESOLVED_ATTEMPTS_ALERT_KEY,
            severity=Alert.Severity.WARNING,
            message=gettext_noop(
                "%(count)s debit attempt(s) still without an outcome after %(minutes)s "
                "minutes: the network's status query does not know them yet. Nothing is "
                "collected again while they are unknown."
            ),
            params={
                "count": lingering,
                "minutes": settings.UNRESOLVED_ATTEMPTS_ALERT_AFTER_SECONDS // 60,
            },
        )
        report.alerts_raised = 1
    else:
        report.alerts_resolved = resolve_cleared_alerts(
            dedup_keys=[UNRESOLVED_ATTEMPTS_ALERT_KEY],
            note="Every debit attempt has an outcome.",
        )
    return report


# --- All detectors ------------------------------------------------------------------

# The detectors, in the order a full pass runs them: mandates first, so that the
# outbox detector then finds the events they settled; attempts before runs, so a
# run's chunks are sent again only after the janitor settled what they left.
DETECTOR_NAMES = (
    "stale_mandates",
    "outbox",
    "attempts",
    "runs",
    "agreements",
    "failure_rates",
    "credential_changes",
)


def detectors() -> dict[str, Callable[..., DetectorReport]]:
    # Imported here: the fanned-out detectors' modules build on DetectorReport above.
    from debits.services.agreement_reconciliation import reconcile_agreements
    from debits.services.stuck_runs import reconcile_stuck_runs

    return {
        "stale_mandates": reconcile_stale_mandates,
        "outbox": reconcile_outbox,
        "attempts": reconcile_unresolved_attempts,
        "runs": reconcile_stuck_runs,
        "agreements": reconcile_agreements,
        "failure_rates": reconcile_failure_rates,
        "credential_changes": reconcile_repeated_credential_changes,
    }


def run_reconciliation(
    *, only: str | None = None, dry_run: bool = False, **options
) -> list[DetectorReport]:
    """Run every detector (or the one named), each repairing and alerting on its own.
    ``options`` go to the one detector named (``fan_out=True`` for the agreements)."""
    if only is not None and only not in DETECTOR_NAMES:
        raise ValueError(f"Unknown detector {only!r}; choose from {', '.join(DETECTOR_NAMES)}")
    available = detectors()
    if only:
        return [available[only](dry_run=dry_run, **options)]
    return [available[name](dry_run=dry_run) for name in DETECTOR_NAMES]
