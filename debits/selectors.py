"""Read queries for staff pages and the admin."""

from django.db.models import QuerySet

from debits.models import DebitRun


def recent_debit_runs(limit: int = 50) -> QuerySet[DebitRun]:
    return DebitRun.objects.select_related("requested_by").order_by("-started_at", "-id")[:limit]


# --- Card page: mandates and their re-syncs ----------------------------------------


def card_mandates_overview(card) -> dict:
    """Each mandate of the card with its sync state, and the card's sync history.

    Sync state is derived from versions: in sync, failed (retries ran out), or
    pending since the first transaction-password change the mandate has not
    caught up with. A fixed number of queries however many mandates.
    """
    from accounts.models import CardCredential, PasswordChange
    from debits.models import Mandate, MandateSync

    mandates = list(
        Mandate.objects.filter(card=card).select_related("loan").order_by("state", "reference")
    )
    changes = list(
        PasswordChange.objects.filter(card=card, kind=CardCredential.Kind.TRANSACTION)
        .order_by("credential_version", "changed_at")
        .values_list("credential_version", "changed_at")
    )
    rows = []
    for mandate in mandates:
        if mandate.synced_credential_version >= card.credential_version:
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
