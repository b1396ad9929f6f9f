"""The payment gateway interface the debit engine and re-sync talk to.

Amounts cross this boundary as integer minor units (fen), never floats.
Every call may raise ``GatewayTimeout`` (outcome unknown: ask ``get_status``
by idempotency key, never collect again blindly) or ``GatewayUnavailable``
(5xx / connection refused: nothing happened, safe to retry).
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
