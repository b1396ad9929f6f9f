"""What the customer 360° page shows, gathered from the selectors of each room.

A fixed number of queries however many cards, mandates, loans or attempts: each
selector reads all of the customer's cards at once. The signed pause targets and
the viewer's permissions are added here, so the template only shows.

The mandates section is also served alone (``customer_mandates``): the page polls it
every few seconds while a re-sync is pending, and it needs three of those queries.

The timeline, at the foot of the page, is served apart (``customer_timeline``) and
fetched by the page once the page has loaded: it reads eleven kinds of record, a third of
what the page would read with it, and nobody needs it to see what went wrong.
"""

from django.utils.translation import gettext as _

from accounts.selectors import customer_cards, customer_cards_overview
from backoffice.collection.pause_targets import card_target, mandate_target, pause_target_of
from backoffice.complaints.selectors import customer_open_complaints, customer_timeline_entries
from backoffice.ui.identifiers import page_number
from debits.models import DebitAttempt, Instalment, LateFee
from debits.selectors import (
    customer_collection_overview,
    mandate_sync_rows,
    pauses_stopping_card,
)

# The deepest page of debit attempts the page serves (ten a page).
MAX_ATTEMPT_PAGE = 100


def customer_360(request, customer) -> dict:
    user = request.user
    cards = customer_cards_overview(customer)
    attempt_state = request.GET.get("attempts", "")
    if attempt_state not in DebitAttempt.State.values:
        attempt_state = ""
    attempt_page = min(page_number(request.GET.get("attempts_page")), MAX_ATTEMPT_PAGE)
    collection = customer_collection_overview(
        [row["card"] for row in cards], attempt_state=attempt_state, attempt_page=attempt_page
    )
    for row in cards:
        row["pauses"] = [
            (pause, pause_target_of(pause))
            for pause in pauses_stopping_card(collection["pauses_in_force"], row["card"])
        ]
        row["pause_token"] = card_target(row["card"]).token
        row["pause_confirm"] = _("Pause collection for %(target)s") % {
            "target": card_target(row["card"]).describe()
        }
    mandates = _mandates_section(user, collection["mandate_rows"])
    for attempt in collection["attempts"]:
        attempt.retryable = (
            attempt.state == DebitAttempt.State.FAILED
            and attempt.instalment.state in Instalment.OPEN_STATES
        )
    open_complaints = customer_open_complaints(customer)
    return {
        "customer": customer,
        "cards": cards,
        **collection,
        **mandates,
        "open_complaints": open_complaints,
        # Fetched apart by the page (``?fragment=timeline``): the section shows a placeholder.
        "timeline_entries": None,
        "attempt_state": attempt_state,
        "attempt_page": attempt_page,
        "attempt_states": DebitAttempt.State.choices,
        "waivable_fee_state": LateFee.State.ACCRUED,
        "nothing_wrong": not (
            collection["open_failures"]
            or mandates["out_of_sync"]
            or collection["alerts"]
            or open_complaints
            or collection["pauses_in_force"]
        ),
        "can_start_reset": user.has_perm("accounts.start_password_reset"),
        "can_retry": user.has_perm("debits.retry_debit_attempt"),
        "can_waive": user.has_perm("debits.waive_late_fee"),
        "can_log_complaint": user.has_perm("complaints.add_complaint"),
        "can_view_complaints": user.has_perm("complaints.view_complaint"),
    }


def customer_mandates(request, customer) -> dict:
    """The mandates section alone, for the page's refresh while a re-sync is pending."""
    rows = mandate_sync_rows(list(customer_cards(customer)))
    return {"customer": customer, **_mandates_section(request.user, rows)}


def _mandates_section(user, mandate_rows: list[dict]) -> dict:
    for row in mandate_rows:
        row["pause_token"] = mandate_target(row["mandate"]).token
    out_of_sync = [row for row in mandate_rows if row["live"] and row["state"] != "in_sync"]
    return {
        "mandate_rows": mandate_rows,
        "out_of_sync": out_of_sync,
        "sync_pending": any(row["state"] == "pending" for row in out_of_sync),
        "can_resync": user.has_perm("debits.resync_mandate"),
        "can_pause": user.has_perm("debits.pause_collection"),
    }


def customer_timeline(customer) -> dict:
    """The newest entries of the timeline of all the customer's cards."""
    return {"customer": customer, "timeline_entries": customer_timeline_entries(customer)}
