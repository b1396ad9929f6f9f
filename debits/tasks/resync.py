"""Re-sync tasks (queue "resync"): thin, idempotent, owning their retry policy.

Retries back off exponentially with jitter, so a gateway recovering from an
outage is not hit by every waiting re-sync in the same second.
"""

import logging
import random

from celery import shared_task
from django.conf import settings

from debits.models import Mandate, MandateSync
from debits.services.credential_changes import (
    apply_credential_change,
    give_up_credential_change,
    postpone_redispatch,
    sweep_outbox,
)
from debits.services.resync import (
    MANDATE_CLOSED,
    MandateNotResyncable,
    close_interrupted_syncs,
    mark_mandate_sync_failed,
    resync_mandate,
)

logger = logging.getLogger(__name__)


def retry_countdown(retries: int) -> float:
    """Exponential backoff, capped, with "equal jitter": half fixed, half random."""
    ceiling = min(
        settings.RESYNC_RETRY_MAX_DELAY_SECONDS,
        settings.RESYNC_RETRY_BASE_DELAY_SECONDS * (2**retries),
    )
    return ceiling / 2 + random.uniform(0, ceiling / 2)  # nosec B311 # jitter, not a secret


@shared_task(bind=True, name="debits.tasks.resync.consume_credential_change_task")
def consume_credential_change_task(
    self, outbox_event_id: int, trigger: str = MandateSync.Trigger.CREDENTIAL_CHANGE
) -> None:
    outcome = apply_credential_change(outbox_event_id=outbox_event_id, trigger=trigger)
    if outcome.processed or not (outcome.behind_mandate_ids or not outcome.network_notified):
        return
    if self.request.retries >= settings.RESYNC_MAX_RETRIES:
        if outcome.behind_mandate_ids:
            give_up_credential_change(
                outbox_event_id=outbox_event_id,
                reason="retries_exhausted",
                attempts=self.request.retries + 1,
            )
        # Only the notice failed (re-sync is off): the event stays open, and the
        # sweeper sends it again once re-sync is switched back on.
        return
    countdown = retry_countdown(self.request.retries)
    postpone_redispatch(outbox_event_id=outbox_event_id, seconds=countdown)
    raise self.retry(countdown=countdown, max_retries=settings.RESYNC_MAX_RETRIES)


@shared_task(bind=True, name="debits.tasks.resync.resync_mandate_task")
def resync_mandate_task(
    self,
    mandate_id: int,
    trigger: str = MandateSync.Trigger.MANUAL,
    actor_id: int | None = None,
) -> None:
    from accounts.models import StaffUser

    mandate = Mandate.objects.select_related("card").get(pk=mandate_id)
    actor = StaffUser.objects.filter(pk=actor_id).first() if actor_id else None
    try:
        sync = resync_mandate(mandate=mandate, trigger=trigger, actor=actor)
    except MandateNotResyncable as exc:
        logger.info("re-sync of mandate %s skipped: %s", mandate_id, exc)
        return
    if sync.outcome != MandateSync.Outcome.FAILED or sync.error_code == MANDATE_CLOSED:
        return  # bound, or closed meanwhile: nothing left to retry
    if self.request.retries >= settings.RESYNC_MAX_RETRIES:
        mark_mandate_sync_failed(
            mandate=mandate, reason=sync.error_code, attempts=self.request.retries + 1
        )
        return
    raise self.retry(
        countdown=retry_countdown(self.request.retries), max_retries=settings.RESYNC_MAX_RETRIES
    )


@shared_task(name="debits.tasks.resync.sweep_outbox_task")
def sweep_outbox_task() -> int:
    close_interrupted_syncs()
    return len(sweep_outbox())
