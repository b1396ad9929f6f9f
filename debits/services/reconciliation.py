"""Reconciliation: detectors that find drift, repair what they can, and raise (or
resolve) one deduplicated alert for what they cannot.

Each detector returns a ``DetectorReport``; ``python manage.py reconcile`` runs
them all (or one, ``--only``), and django-celery-beat runs each on its own
schedule. Every detector is safe to run twice at once: repairs go through the
same idempotent services as the real-time path (re-sync binds a version once,
claims use ``skip_locked``), and alerts are deduplicated by the database.
"""

import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from accounts.models import StaffUser
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
            message=(
                f"{still_behind} active mandate(s) still bound to an old credential "
                f"{settings.RECONCILIATION_DRIFT_ALERT_AFTER_SECONDS // 60} minutes or more "
                "after the change; re-sync keeps failing."
            ),
        )
        report.alerts_raised = 1
    else:
        report.alerts_resolved = resolve_cleared_alerts(
            dedup_keys=[DRIFT_ALERT_KEY], note="Every active mandate is in sync with its card."
        )
    return report
