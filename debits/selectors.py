"""Read queries for staff pages and the admin."""

from django.db.models import QuerySet

from debits.models import DebitRun


def recent_debit_runs(limit: int = 50) -> QuerySet[DebitRun]:
    return DebitRun.objects.select_related("requested_by").order_by("-started_at", "-id")[:limit]


# --- Card page: mandates and their re-syncs ----------------------------------------


def card_mandates_overview(card) -> dict:
    """Each mandate of the card with its sync state, and the card's sync history.

    Sync state is derived from versions: in sync, failed (retries ran out), or
    pending since the first change of a binding credential (transaction password,
    biometric, bound device) the mandate has not caught up with. A fixed number
    of queries however many mandates.
    """
    from accounts.models import MANDATE_BINDING_CREDENTIAL_KINDS, PasswordChange
    from debits.models import Mandate, MandateSync

    mandates = list(
        Mandate.objects.filter(card=card).select_related("loan").order_by("state", "reference")
    )
    changes = list(
        PasswordChange.objects.filter(card=card, kind__in=MANDATE_BINDING_CREDENTIAL_KINDS)
        .order_by("credential_version", "changed_at")
        .values_list("credential_version", "changed_at")
    )
    rows = []
    for mandate in mandates:
        if mandate.is_in_sync_with(card):
            state, since = "in_sync", mandate.synced_at
        elif mandate.sync_failed_at is not None:
            state, since = "failed", mandate.sync_failed_at
        else:
            state = "pending"
            since = next(
                (at for version, at in changes if version > mandate.synced_credential_version),
                card.credential_changed_at,
            )
        rows.append(
            {
                "mandate": mandate,
                "state": state,
                "since": since,
                "live": mandate.state in Mandate.LIVE_STATES,
            }
        )
    history = list(
        MandateSync.objects.filter(mandate__card=card)
        .select_related("mandate", "requested_by")
        .order_by("-requested_at", "-id")[:30]
    )
    return {"mandate_rows": rows, "sync_history": history}


# --- Debit runs, attempts and the card's instalments ---------------------------------


def debit_run_progress(run_id: int) -> dict:
    """A run's progress and its counts by outcome, failure code and skip reason.

    Counted from the attempt and skip rows (three grouped queries), so the page
    agrees with the rows even while chunk tasks are still bumping the counters.
    """
    from django.db.models import Count

    from debits.models import DebitAttempt, DebitRun, SkippedInstalment

    run = DebitRun.objects.select_related("requested_by").get(pk=run_id)
    by_state = dict(
        DebitAttempt.objects.filter(run_id=run_id)
        .values_list("state")
        .annotate(n=Count("id"))
        .values_list("state", "n")
    )
    by_code = list(
        DebitAttempt.objects.filter(run_id=run_id)
        .exclude(failure_code="")
        .values("failure_code")
        .annotate(n=Count("id"))
        .order_by("-n", "failure_code")
        .values_list("failure_code", "n")
    )
    by_reason = list(
        SkippedInstalment.objects.filter(run_id=run_id)
        .values("reason")
        .annotate(n=Count("id"))
        .order_by("-n", "reason")
        .values_list("reason", "n")
    )
    percent = 100 if run.chunks_total == 0 else int(100 * run.chunks_done / run.chunks_total)
    return {
        "run": run,
        "percent": min(percent, 100),
        "attempts_by_state": {state: by_state.get(state, 0) for state in DebitAttempt.State.values},
        "failures_by_code": by_code,
        "skips_by_reason": by_reason,
    }


def unresolved_debit_attempts():
    """Failed and unknown attempts, newest first, with what the list and export show."""
    from debits.models import DebitAttempt

    return (
        DebitAttempt.objects.filter(
            state__in=[DebitAttempt.State.FAILED, DebitAttempt.State.UNKNOWN]
        )
        .select_related("instalment__loan", "mandate__card__customer", "run")
        .order_by("-created_at", "-id")
    )


def card_instalments_with_attempts(card) -> list:
    """Each instalment of the card's loans with its debit attempts and late fee.

    Three queries however many instalments: instalments with loan and fee,
    then all their attempts.
    """
    from django.db.models import Prefetch

    from debits.models import DebitAttempt, Instalment

    return list(
        Instalment.objects.filter(loan__card=card)
        .select_related("loan", "late_fee")
        .prefetch_related(
            Prefetch(
                "attempts",
                queryset=DebitAttempt.objects.order_by("attempt_number"),
            )
        )
        .order_by("loan__reference", "sequence")
    )


def open_collection_pauses():
    from debits.models import CollectionPause

    return (
        CollectionPause.objects.filter(resumed_at__isnull=True)
        .select_related("card", "mandate", "paused_by")
        .order_by("-paused_at")
    )


def recent_collection_pauses(limit: int = 50):
    from debits.models import CollectionPause

    return (
        CollectionPause.objects.filter(resumed_at__isnull=False)
        .select_related("card", "mandate", "paused_by", "resumed_by")
        .order_by("-resumed_at")[:limit]
    )
