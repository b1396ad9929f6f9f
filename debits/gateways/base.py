"""The payment gateway interface the debit engine and re-sync talk to.

Amounts cross this boundary as integer minor units (fen), never floats.
Every call may raise ``GatewayTimeout`` (outcome unknown: ask ``get_status``
by idempotency key, never collect again blindly) or ``GatewayUnavailable``
(5xx / connection refused: nothing happened, safe to retry).

Networks take direct debits in batches (a batch call of many collection
instructions, answered per instruction) as well as one at a time:
``collect_batch`` and ``get_status_batch`` are the batch form. A whole batch
call that raises ``GatewayTimeout`` leaves every item's outcome unknown; one
that raises ``GatewayUnavailable`` carried out none of them. Inside a batch
answer an item may itself be answered ``timeout`` (unknown),
``gateway_unavailable`` (not carried out) or ``idempotency_conflict``.
A gateway without a batch endpoint simply lacks the two methods
(``supports_batch``).
"""

from dataclasses import dataclass
from typing import Protocol


class GatewayError(Exception):
    """A gateway call that did not return a business answer."""

    code = "gateway_error"


class GatewayTimeout(GatewayError):
    """No answer in time: the request may or may not have been carried out."""

    code = "timeout"


class GatewayUnavailable(GatewayError):
    """The gateway refused or failed (5xx, connection error): nothing was carried out."""

    code = "gateway_unavailable"


class IdempotencyConflict(GatewayError):
    """The same idempotency key was presented with different parameters."""

    code = "idempotency_conflict"


@dataclass(frozen=True)
class AgreementBinding:
    """A mandate's agreement, bound to one credential version of the card."""

    mandate_reference: str
    agreement_token: str
    credential_version: int


@dataclass(frozen=True)
class AgreementRecord:
    """The network's own record of a mandate's agreement, for reconciliation."""

    mandate_reference: str
    agreement_token: str
    credential_version: int
    revoked: bool = False


@dataclass(frozen=True)
class AgreementPage:
    """One page of ``list_agreements``; ``next_after`` is None on the last page."""

    agreements: list[AgreementRecord]
    next_after: str | None = None


# Agreements asked about in one ``list_agreements`` call: the reconciliation pass
# sends one chunk of mandates per call, so this also bounds a chunk.
MAX_AGREEMENTS_PER_QUERY = 500


@dataclass(frozen=True)
class CollectionResult:
    """The gateway's answer to a collect (or to get_status for the same key).

    ``outcome`` is the gateway's raw code: "succeeded", or a failure such as
    "insufficient_funds", "agreement_stale", "agreement_revoked",
    "account_closed", "authorisation_withdrawn", "limit_exceeded".
    ``found`` is False only from get_status when the gateway never saw the key.
    """

    idempotency_key: str
    outcome: str
    gateway_reference: str = ""
    message: str = ""
    found: bool = True

    @property
    def succeeded(self) -> bool:
        return self.outcome == "succeeded"


# Per-item answers inside a batch for what a single call raises.
ITEM_TIMEOUT = GatewayTimeout.code
ITEM_UNAVAILABLE = GatewayUnavailable.code
ITEM_CONFLICT = IdempotencyConflict.code


@dataclass(frozen=True)
class CollectionRequest:
    """One collection instruction of a batch: what ``collect`` takes as arguments."""

    idempotency_key: str
    mandate_reference: str
    agreement_token: str
    amount_minor: int
    currency: str = "CNY"


# Instructions per batch call: what the bank sends the network in one request.
# The simulator and the HTTP contract accept up to this many; the engine sends one
# chunk per call, so a chunk is never larger (debits.services.runs.CHUNK_SIZE).
MAX_COLLECTIONS_PER_BATCH = 1000


def supports_batch(gateway: object) -> bool:
    """Whether the gateway takes collections (and status queries) in batches."""
    return callable(getattr(gateway, "collect_batch", None)) and callable(
        getattr(gateway, "get_status_batch", None)
    )


def check_batch(items: list) -> None:
    """Refuse, before anything is sent, a batch that is too large or repeats a key."""
    if len(items) > MAX_COLLECTIONS_PER_BATCH:
        raise ValueError(f"at most {MAX_COLLECTIONS_PER_BATCH} items per batch")
    keys = [getattr(item, "idempotency_key", item) for item in items]
    if len(set(keys)) != len(keys):
        raise ValueError("an idempotency key appears twice in one batch")


def check_amount_minor(amount_minor: int) -> None:
    """Refuse, before anything is sent, an amount that is not a positive number of minor units."""
    if not isinstance(amount_minor, int) or amount_minor <= 0:
        raise ValueError("amount_minor must be a positive integer")


class PaymentGateway(Protocol):
    def bind_agreement(
        self,
        *,
        mandate_reference: str,
        card_reference: str,
        account_fingerprint: str,
        credential_version: int,
    ) -> AgreementBinding:
        """Bind (or re-bind) the mandate's agreement to this credential version.

        ``card_reference`` is the bank's opaque, stable reference for the card
        (never the card number), so the network knows which agreements a
        credential-change notice concerns. Idempotent: binding the version
        already bound returns the same token.
        """
        ...

    def notify_credential_change(self, *, card_reference: str, credential_version: int) -> None:
        """Tell the network the card's credential is now at this version.

        From then on the network refuses, as ``agreement_stale``, a collect under
        any agreement of the card bound to an older version. Idempotent: a
        repeated or late notice (an older version) changes nothing.
        """
        ...

    def collect(
        self,
        *,
        idempotency_key: str,
        mandate_reference: str,
        agreement_token: str,
        amount_minor: int,
        currency: str = "CNY",
    ) -> CollectionResult:
        """Collect an amount under an agreement. Same key + same parameters returns
        the first result; same key + different parameters raises IdempotencyConflict."""
        ...

    def get_status(self, *, idempotency_key: str) -> CollectionResult:
        """What happened to the collect sent with this key (found=False if never seen)."""
        ...

    def collect_batch(self, items: list[CollectionRequest]) -> list[CollectionResult]:
        """Collect many instructions in one call; one result per item, in the same order
        and with the same keys. Each item follows ``collect``'s idempotency (first
        result wins); a failure of one item is that item's ``outcome``, never an
        exception. Optional: a network without a batch endpoint lacks it."""
        ...

    def get_status_batch(self, idempotency_keys: list[str]) -> list[CollectionResult]:
        """``get_status`` for many keys in one call, in the same order (found=False
        for a key never seen). Optional, with ``collect_batch``."""
        ...

    def get_agreement(self, *, mandate_reference: str) -> AgreementRecord | None:
        """The network's agreement for this mandate (None if it holds none)."""
        ...

    def list_agreements(
        self,
        *,
        mandate_references: list[str] | None = None,
        after: str = "",
        limit: int = MAX_AGREEMENTS_PER_QUERY,
    ) -> AgreementPage:
        """The network's agreements: those of ``mandate_references`` (at most
        ``MAX_AGREEMENTS_PER_QUERY``; absent ones are simply missing from the page),
        or, without references, every agreement in reference order after ``after``."""
        ...
