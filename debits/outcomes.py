"""The outcome table: what each answer of the payment network means for the attempt,
its retry, the mandate and any late fee that follows.

Pure data and pure functions with no database access: the services that record
outcomes, schedule retries and waive fees, and the attempt list's filters, all
read it. Of the models it uses only the attempt's state vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from debits.models import DebitAttempt


class Classification(StrEnum):
    SUCCESS = "success"
    RETRYABLE = "retryable"  # the customer's side, e.g. no money today
    UNKNOWN = "unknown"  # the gateway may or may not have collected
    BANK_SIDE = "bank_side"  # our or the network's fault: never the customer's
    FINAL = "final"  # stop collecting under this mandate
    NEEDS_REVIEW = "needs_review"  # a code we do not know


class RetryPolicy(StrEnum):
    NONE = "none"
    SCHEDULE = "schedule"  # after DEBIT_RETRY_SCHEDULE_DAYS, at most DEBIT_MAX_ATTEMPTS tries
    BACKOFF = "backoff"  # same day, doubling waits from DEBIT_OUTAGE_BACKOFF_MINUTES
    SAME_DAY = "same_day"  # at once (after the mandate effect), a few times a day
    JANITOR = "janitor"  # the janitor asks the gateway by idempotency key first


class MandateEffect(StrEnum):
    NONE = "none"
    RESYNC = "resync"  # the network holds another agreement: bind again
    FAIL = "fail"  # the authorisation is gone: mandate failed, operations alerted


@dataclass(frozen=True)
class Outcome:
    attempt_state: str
    classification: Classification
    retry: RetryPolicy
    mandate_effect: MandateEffect
    # A late fee that follows from this outcome is waived automatically.
    bank_side_fee_cause: bool


SUCCEEDED = "succeeded"
UNCLASSIFIED = "unclassified"
NOT_RECEIVED = "not_received"

_S = DebitAttempt.State
OUTCOMES: dict[str, Outcome] = {
    SUCCEEDED: Outcome(
        _S.SUCCEEDED, Classification.SUCCESS, RetryPolicy.NONE, MandateEffect.NONE, False
    ),
    # The customer's account could not pay today; it may tomorrow.
    "insufficient_funds": Outcome(
        _S.FAILED, Classification.RETRYABLE, RetryPolicy.SCHEDULE, MandateEffect.NONE, False
    ),
    # The account's own daily or single-debit limit: like insufficient funds.
    "limit_exceeded": Outcome(
        _S.FAILED, Classification.RETRYABLE, RetryPolicy.SCHEDULE, MandateEffect.NONE, False
    ),
    # No answer: the money may have moved. Only get_status may decide, never a new collect.
    "timeout": Outcome(
        _S.UNKNOWN, Classification.UNKNOWN, RetryPolicy.JANITOR, MandateEffect.NONE, True
    ),
    # A gateway error without a business answer, or our client failing mid-call.
    "gateway_error": Outcome(
        _S.UNKNOWN, Classification.UNKNOWN, RetryPolicy.JANITOR, MandateEffect.NONE, True
    ),
    # Same key, other parameters: something of ours is wrong; ask before doing anything.
    "idempotency_conflict": Outcome(
        _S.UNKNOWN, Classification.UNKNOWN, RetryPolicy.JANITOR, MandateEffect.NONE, True
    ),
    # 5xx or refused connection: nothing happened, the network is down.
    "gateway_unavailable": Outcome(
        _S.FAILED, Classification.BANK_SIDE, RetryPolicy.BACKOFF, MandateEffect.NONE, True
    ),
    # The agreement we presented is not the one the network holds (a credential
    # change that did not reach it): bind again, then collect the same day.
    "agreement_stale": Outcome(
        _S.FAILED, Classification.BANK_SIDE, RetryPolicy.SAME_DAY, MandateEffect.RESYNC, True
    ),
    "agreement_revoked": Outcome(
        _S.FAILED, Classification.BANK_SIDE, RetryPolicy.SAME_DAY, MandateEffect.RESYNC, True
    ),
    # The janitor's verdict: the gateway never saw the key, so nothing was collected.
    NOT_RECEIVED: Outcome(
        _S.FAILED, Classification.BANK_SIDE, RetryPolicy.SAME_DAY, MandateEffect.NONE, True
    ),
    # The customer closed the account or withdrew the authorisation: stop for good.
    "account_closed": Outcome(
        _S.FAILED, Classification.FINAL, RetryPolicy.NONE, MandateEffect.FAIL, False
    ),
    "authorisation_withdrawn": Outcome(
        _S.FAILED, Classification.FINAL, RetryPolicy.NONE, MandateEffect.FAIL, False
    ),
    # A code nobody has classified: no automatic retry; staff decide (retry selected).
    # Not proven to be the customer's doing, so a fee that follows is waived.
    UNCLASSIFIED: Outcome(
        _S.FAILED, Classification.NEEDS_REVIEW, RetryPolicy.NONE, MandateEffect.NONE, True
    ),
}

# The gateway's spellings of the codes above.
RAW_CODE_ALIASES = {
    "nsf": "insufficient_funds",
    "insufficient_balance": "insufficient_funds",
    "limit_exceeded": "limit_exceeded",
    "daily_limit_exceeded": "limit_exceeded",
    "5xx": "gateway_unavailable",
    "service_unavailable": "gateway_unavailable",
    "stale_agreement": "agreement_stale",
    "agreement_expired": "agreement_stale",
    "revoked": "agreement_revoked",
    "account_closed": "account_closed",
    "authorization_withdrawn": "authorisation_withdrawn",
    "mandate_withdrawn": "authorisation_withdrawn",
}

BANK_SIDE_FAILURE_CODES = frozenset(
    code for code, outcome in OUTCOMES.items() if outcome.bank_side_fee_cause
)


def normalise_failure_code(raw: str) -> str:
    """The failure code we classify by, from whatever the gateway answered."""
    code = (raw or "").strip().lower().replace("-", "_").replace(" ", "_")
    if code in OUTCOMES:
        return code
    return RAW_CODE_ALIASES.get(code, UNCLASSIFIED)


def outcome_for(code: str) -> Outcome:
    return OUTCOMES[normalise_failure_code(code)]


@dataclass
class GatewayAnswer:
    """What the network answered to a collect (or, to the janitor, a status query)."""

    raw_code: str
    gateway_reference: str = ""
    message: str = ""

    @property
    def code(self) -> str:
        return normalise_failure_code(self.raw_code)
