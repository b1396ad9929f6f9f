"""What staff read for the debit engine's codes: failure codes and skip reasons.

The codes themselves live with the outcome table and the run selection; this
module only names them for people, in every language of the workspace. A test
checks that every code has a label here, so a new code cannot reach a page raw.
"""

from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

# A debit attempt's failure code (the normalised one) -> its label.
FAILURE_CODE_LABELS = {
    "succeeded": _("Collected"),
    "insufficient_funds": _("Insufficient funds"),
    "limit_exceeded": _("Account limit exceeded"),
    "timeout": _("No answer from the gateway (outcome unknown)"),
    "gateway_error": _("Gateway error (outcome unknown)"),
    "idempotency_conflict": _("Idempotency key conflict (outcome unknown)"),
    "gateway_unavailable": _("Gateway unavailable"),
    "agreement_stale": _("Agreement bound to an old credential version"),
    "agreement_revoked": _("Agreement revoked by the network"),
    "not_received": _("Never reached the gateway"),
    "account_closed": _("Account closed"),
    "authorisation_withdrawn": _("Authorisation withdrawn by the customer"),
    "unclassified": _("Unclassified answer (staff to review)"),
}

# Why a run selected an instalment but did not collect it -> its label.
SKIP_REASON_LABELS = {
    "no_mandate": _("No mandate for the loan"),
    "mandate_pending": _("Mandate not yet active"),
    "mandate_suspended": _("Mandate suspended"),
    "mandate_cancelled": _("Mandate cancelled"),
    "mandate_failed": _("Mandate failed"),
    "mandate_not_yet_valid": _("Mandate not valid yet"),
    "mandate_expired": _("Mandate expired"),
    "over_per_debit_cap": _("Above the mandate's per-debit cap"),
    "authorisation_terms_mismatch": _("Breaks the authorisation's terms"),
    "collection_paused_book": _("Collection paused for the whole book"),
    "collection_paused_card": _("Collection paused for the card"),
    "collection_paused_mandate": _("Collection paused for the mandate"),
    "attempt_in_flight": _("An earlier attempt is not settled yet"),
    "retry_not_due": _("Next try not due yet"),
    "no_automatic_retry": _("No automatic retry for the last failure"),
    "mandate_out_of_sync": _("Mandate out of sync (re-sync first)"),
    # Why staff's "retry selected" did not retry an attempt before any rule ran.
    "attempt_not_failed": _("Only a failed attempt can be retried"),
    "instalment_settled": _("Instalment already paid"),
    "not_due_yet": _("Instalment not due yet"),
}

# The same reasons as they read inside a sentence ("Not retried because ..."): a
# label is a heading, capitalised and terse, and reads wrongly mid-sentence.
SKIP_REASON_IN_SENTENCE = {
    "no_mandate": _("the loan has no mandate"),
    "mandate_pending": _("the mandate is not active yet"),
    "mandate_suspended": _("the mandate is suspended"),
    "mandate_cancelled": _("the mandate is cancelled"),
    "mandate_failed": _("the mandate has failed"),
    "mandate_not_yet_valid": _("the mandate is not valid yet"),
    "mandate_expired": _("the mandate has expired"),
    "over_per_debit_cap": _("the amount is above the mandate's per-debit cap"),
    "authorisation_terms_mismatch": _("the debit would break the authorisation's terms"),
    "collection_paused_book": _("collection is paused for the whole book"),
    "collection_paused_card": _("collection is paused for the card"),
    "collection_paused_mandate": _("collection is paused for the mandate"),
    "attempt_in_flight": _("an earlier attempt is not settled yet"),
    "retry_not_due": _("the next try is not due yet"),
    "no_automatic_retry": _("the last failure is not retried automatically"),
    "mandate_out_of_sync": _("the mandate is out of sync (re-sync it first)"),
    "attempt_not_failed": _("only a failed attempt can be retried"),
    "instalment_settled": _("the instalment is already paid"),
    "not_due_yet": _("the instalment is not due yet"),
}

# Why a late fee's instalment was late (LateFee.cause): a failure code, a skip
# reason, or one of the fee rules' own signals.
FEE_CAUSE_LABELS = {
    **FAILURE_CODE_LABELS,
    **SKIP_REASON_LABELS,
    "resync_failed": _("Mandate re-sync failed"),
    "not_collected": _("Not collected"),
}

# Why a mandate re-sync failed (MandateSync.error_code) -> its label.
SYNC_ERROR_LABELS = {
    "gateway_error": _("Gateway error"),
    "gateway_unavailable": _("Gateway unavailable"),
    "timeout": _("No answer from the gateway"),
    "idempotency_conflict": _("Idempotency key conflict"),
    "interrupted": _("Interrupted (worker stopped)"),
    "mandate_closed": _("Mandate cancelled or failed while the gateway bound it"),
    # A credential change's re-sync that used up its retries (a mandate's failure
    # reason, never a MandateSync's error code).
    "retries_exhausted": _("Re-sync still failing after its retries"),
}

# The label tables an alert's coded values are named from (``coded``), by name.
CODE_LABELS = {"failure_code": FAILURE_CODE_LABELS, "sync_error": SYNC_ERROR_LABELS}


def coded(labels: str, code: str) -> dict:
    """A value of an alert's message that is a code: the English message keeps the
    code, a reader sees its label (``CODE_LABELS[labels]``) in their language."""
    return {"code": code, "labels": labels}


def _is_coded(value) -> bool:
    return isinstance(value, dict) and "code" in value


def value_in_words(value):
    """A message value as a reader sees it: a ``coded`` one by its label."""
    if not _is_coded(value):
        return value
    label = CODE_LABELS.get(value.get("labels"), {}).get(value["code"])
    return value["code"] if label is None else str(label)


def value_as_raised(value):
    """A message value as the English message keeps it: a ``coded`` one as its code."""
    return value["code"] if _is_coded(value) else value


# Messages the debit services raise for staff, marked here so the pages can show
# them translated (backoffice.ui.messages.translated); they stay English in logs.
SERVICE_MESSAGES = (
    gettext_noop("You do not hold the permission for this"),
    gettext_noop("A waiver needs a reason"),
    gettext_noop("Only an accrued fee can be waived"),
    gettext_noop("This fee has no waiver awaiting approval"),
    gettext_noop("The person who asked for a waiver cannot approve it"),
    gettext_noop("You may not retry debit attempts"),
    gettext_noop("Only failed attempts can be retried; unknown ones settle first"),
    gettext_noop("A pause of the whole book names no card or mandate"),
    gettext_noop("A card pause names exactly one card"),
    gettext_noop("A mandate pause names exactly one mandate"),
    gettext_noop("You may not pause or resume collection"),
    gettext_noop("Collection is already paused there"),
    gettext_noop("Collection is not paused there"),
    gettext_noop("A pause needs a reason"),
    gettext_noop("Resuming needs a reason"),
)
