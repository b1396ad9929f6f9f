"""A payment network stand-in that behaves like the real one, faults included.

It keeps its own books (``simulator.ledger``: agreements bound to credential
versions, what it was told of each card, a ledger of collections by
idempotency key) in the database, so several worker processes share one
network, and injects faults by seeded rate or by script (``simulator.faults``).

Like a real network it learns a card's credential version only from the bank:
from the version an agreement is bound to and from credential-change notices
(``notify_credential_change``). An agreement bound to an older version than
the card's latest is refused as ``agreement_stale``, whatever the bank's own
rows say.

The simulator writes through the caller's database connection: call it
outside any open transaction (as the debit engine and re-sync do), or its
books roll back with the caller's. Only a mandate with a scripted fault pays
for the locked read that consumes it.
"""

import secrets
import time

from django.conf import settings

from debits.gateways.base import (
    ITEM_CONFLICT,
    ITEM_TIMEOUT,
    ITEM_UNAVAILABLE,
    MAX_AGREEMENTS_PER_QUERY,
    AgreementBinding,
    AgreementPage,
    AgreementRecord,
    CollectionRequest,
    CollectionResult,
    GatewayTimeout,
    GatewayUnavailable,
    IdempotencyConflict,
    check_amount_minor,
    check_batch,
)
from simulator import ledger
from simulator.faults import (
    BIND_FAULTS,
    COLLECT_FAULTS,
    RECORDED_FAULTS,
    FaultRates,
    fraction,
    take_scripted_fault,
)
from simulator.models import SimulatedCollection, SimulatedFault

SUCCEEDED = "succeeded"
AGREEMENT_STALE = "agreement_stale"
AGREEMENT_REVOKED = "agreement_revoked"
INSUFFICIENT_FUNDS = "insufficient_funds"


class SimulatorGateway:
    """``debits.gateways.base.PaymentGateway`` against the simulator's own tables.

    Arguments left as None are read from settings at each call, so
    ``override_settings`` in a test applies to the cached instance too.
    """

    def __init__(
        self,
        *,
        seed: int | None = None,
        latency_ms: int | None = None,
        rates: FaultRates | None = None,
    ):
        self._seed = seed
        self._latency_ms = latency_ms
        self._rates = rates

    # --- configuration -------------------------------------------------------
    @property
    def seed(self) -> int:
        return settings.GATEWAY_SIMULATOR_SEED if self._seed is None else self._seed

    @property
    def rates(self) -> FaultRates:
        if self._rates is not None:
            return self._rates
        return FaultRates(
            insufficient_funds=settings.GATEWAY_SIMULATOR_INSUFFICIENT_FUNDS_RATE,
            timeout=settings.GATEWAY_SIMULATOR_TIMEOUT_RATE,
            unavailable=settings.GATEWAY_SIMULATOR_UNAVAILABLE_RATE,
        )

    def _wait(self, *, batch_items: int = 0) -> None:
        latency = (
            settings.GATEWAY_SIMULATOR_LATENCY_MS if self._latency_ms is None else self._latency_ms
        )
        latency += batch_items * settings.GATEWAY_SIMULATOR_BATCH_ITEM_LATENCY_MS
        if latency > 0:
            time.sleep(latency / 1000)

    # --- the interface ---------------------------------------------------------
    def bind_agreement(
        self,
        *,
        mandate_reference: str,
        card_reference: str,
        account_fingerprint: str,
        credential_version: int,
    ) -> AgreementBinding:
        self._wait()
        request_key = f"bind:{mandate_reference}:{credential_version}"
        presentation = ledger.count_presentation(request_key)
        if take_scripted_fault(mandate_reference, kinds=BIND_FAULTS):
            raise GatewayUnavailable("agreement service unavailable (scripted)")
        if fraction(self.seed, "unavailable", request_key, presentation) < self.rates.unavailable:
            raise GatewayUnavailable("agreement service unavailable (injected)")
        agreement = ledger.bind(
            mandate_reference=mandate_reference,
            card_reference=card_reference,
            credential_version=credential_version,
        )
        return AgreementBinding(
            mandate_reference=mandate_reference,
            agreement_token=agreement.token,
            credential_version=agreement.credential_version,
        )

    def notify_credential_change(self, *, card_reference: str, credential_version: int) -> None:
        # No injected faults here: the rates model the collection and agreement
        # services; the bank's handling of a failed notice is tested over HTTP.
        self._wait()
        ledger.learn_credential_version(
            card_reference=card_reference, credential_version=credential_version
        )

    def collect(
        self,
        *,
        idempotency_key: str,
        mandate_reference: str,
        agreement_token: str,
        amount_minor: int,
        currency: str = "CNY",
    ) -> CollectionResult:
        check_amount_minor(amount_minor)
        self._wait()
        request = CollectionRequest(
            idempotency_key, mandate_reference, agreement_token, amount_minor, currency
        )
        params = _params(request)
        seen = ledger.read_presentation(idempotency_key, mandate_reference)
        if seen.first is not None:
            return _replay(seen.first, params)
        action, outcome = self._decide(request, seen)
        if action in (_UNAVAILABLE, _TIMEOUT_BEFORE):
            # Only an answer that leaves no ledger row can be presented again
            # (a ledger row is replayed), so only it needs its presentation kept.
            if not seen.counted:
                ledger.record_presentation(f"collect:{idempotency_key}")
            if action == _UNAVAILABLE:
                raise GatewayUnavailable("payment network unavailable")
            raise GatewayTimeout("no answer from the payment network")
        row = ledger.record_collection(_ledger_row(request, outcome))
        if row is None:
            # The same key presented concurrently: the first writer's result stands.
            row = SimulatedCollection.objects.get(idempotency_key=idempotency_key)
            return _replay(row, params)
        if action == _TIMEOUT_AFTER:
            raise GatewayTimeout("no answer from the payment network")
        return _result(row)

    def collect_batch(self, items: list[CollectionRequest]) -> list[CollectionResult]:
        """Many collects in one call, answered per item, with the latency once (and
        ``GATEWAY_SIMULATOR_BATCH_ITEM_LATENCY_MS`` per item).

        Set-based on the network's books: one read of every item's ledger row,
        presentations, agreement and card version; one INSERT ... ON CONFLICT DO
        NOTHING of the ledger rows (first writer wins, per key); one upsert of the
        presentations of the items that carried out nothing. Faults are decided per
        item exactly as ``collect`` decides them.
        """
        check_batch(items)
        for item in items:
            check_amount_minor(item.amount_minor)
        self._wait(batch_items=len(items))
        seen = ledger.read_presentations(
            [(item.idempotency_key, item.mandate_reference) for item in items]
        )
        answers: list[CollectionResult | None] = [None] * len(items)
        unpresented: list[str] = []
        to_write: list[tuple[int, str, SimulatedCollection]] = []
        for index, (item, known) in enumerate(zip(items, seen, strict=True)):
            if known.first is not None:
                answers[index] = _replay_item(known.first, item)
                continue
            action, outcome = self._decide(item, known)
            if action in (_UNAVAILABLE, _TIMEOUT_BEFORE):
                if not known.counted:
                    unpresented.append(f"collect:{item.idempotency_key}")
                answers[index] = _item_failure(item, action)
                continue
            to_write.append((index, action, _ledger_row(item, outcome)))
        ledger.record_presentations(unpresented)
        written = ledger.record_collections([row for _, _, row in to_write])
        for (index, action, ours), row in zip(to_write, written, strict=True):
            if row is not ours:
                answers[index] = _replay_item(row, items[index])
            elif action == _TIMEOUT_AFTER:
                answers[index] = _item_failure(items[index], action)
            else:
                answers[index] = _result(row)
        return answers

    def _decide(self, request: CollectionRequest, seen: ledger.Seen) -> tuple[str, str]:
        """What the network does with a request not in its ledger: (action, outcome)."""
        key, presentation = request.idempotency_key, seen.presentation
        scripted = (
            take_scripted_fault(request.mandate_reference, kinds=COLLECT_FAULTS)
            if seen.fault_scripted
            else None
        )
        roll = fraction(self.seed, "collect", key, presentation)
        rates = self.rates
        action = _COLLECTED
        if scripted == SimulatedFault.Outcome.UNAVAILABLE or (
            scripted is None and roll < rates.unavailable
        ):
            return _UNAVAILABLE, ""
        if scripted == SimulatedFault.Outcome.TIMEOUT_BEFORE_COLLECT:
            return _TIMEOUT_BEFORE, ""
        if scripted == SimulatedFault.Outcome.TIMEOUT_AFTER_COLLECT:
            action = _TIMEOUT_AFTER
        elif scripted is None and roll < rates.unavailable + rates.timeout:
            # Half of injected timeouts happen after the network carried out the
            # collection, half before: get_status is the only way to tell.
            if fraction(self.seed, "timeout-side", key, presentation) < 0.5:
                return _TIMEOUT_BEFORE, ""
            action = _TIMEOUT_AFTER

        outcome = SUCCEEDED
        if (
            seen.agreement_token is None
            or seen.agreement_token != request.agreement_token
            or seen.agreement_version < seen.card_version
        ):
            outcome = AGREEMENT_STALE
        elif seen.agreement_revoked:
            outcome = AGREEMENT_REVOKED
        elif scripted in RECORDED_FAULTS:
            outcome = str(scripted)
        elif scripted is None and (
            # Its own band of the roll: a timeout after collecting carried out a
            # successful collection, not a refusal.
            rates.unavailable + rates.timeout
            <= roll
            < rates.unavailable + rates.timeout + rates.insufficient_funds
        ):
            outcome = INSUFFICIENT_FUNDS
        return action, outcome

    def get_status(self, *, idempotency_key: str) -> CollectionResult:
        self._wait()
        row = SimulatedCollection.objects.filter(idempotency_key=idempotency_key).first()
        if row is None:
            return CollectionResult(idempotency_key=idempotency_key, outcome="", found=False)
        return _result(row)

    def get_status_batch(self, idempotency_keys: list[str]) -> list[CollectionResult]:
        check_batch(idempotency_keys)
        self._wait()
        rows = ledger.collections_for(list(idempotency_keys))
        return [
            _result(rows[key])
            if key in rows
            else CollectionResult(idempotency_key=key, outcome="", found=False)
            for key in idempotency_keys
        ]

    def get_agreement(self, *, mandate_reference: str) -> AgreementRecord | None:
        self._wait()
        page = ledger.agreements(mandate_references=[mandate_reference])
        return page[0] if page else None

    def list_agreements(
        self,
        *,
        mandate_references: list[str] | None = None,
        after: str = "",
        limit: int = MAX_AGREEMENTS_PER_QUERY,
    ) -> AgreementPage:
        self._wait()
        if mandate_references is not None:
            if len(mandate_references) > MAX_AGREEMENTS_PER_QUERY:
                raise ValueError(f"at most {MAX_AGREEMENTS_PER_QUERY} references per query")
            return AgreementPage(
                agreements=ledger.agreements(mandate_references=mandate_references)
            )
        limit = max(1, min(limit, MAX_AGREEMENTS_PER_QUERY))
        found = ledger.agreements(after=after, limit=limit + 1)
        more = len(found) > limit
        found = found[:limit]
        return AgreementPage(
            agreements=found, next_after=found[-1].mandate_reference if more else None
        )


def _result(row: SimulatedCollection) -> CollectionResult:
    return CollectionResult(
        idempotency_key=row.idempotency_key,
        outcome=row.outcome,
        gateway_reference=row.gateway_reference,
        message="" if row.outcome == SUCCEEDED else row.outcome.replace("_", " "),
    )


# What the network does with a request it has not carried out before.
_COLLECTED = "collected"
_TIMEOUT_AFTER = "timeout_after_collect"
_TIMEOUT_BEFORE = "timeout_before_collect"
_UNAVAILABLE = "unavailable"


def _params(request: CollectionRequest) -> dict:
    return {
        "mandate_reference": request.mandate_reference,
        "agreement_token": request.agreement_token,
        "amount_minor": request.amount_minor,
    }


def _ledger_row(request: CollectionRequest, outcome: str) -> SimulatedCollection:
    return SimulatedCollection(
        idempotency_key=request.idempotency_key,
        outcome=outcome,
        gateway_reference=f"SIM{secrets.token_hex(8).upper()}",
        **_params(request),
    )


def _item_failure(request: CollectionRequest, action: str) -> CollectionResult:
    """A batch item the network did not answer with a business outcome."""
    if action == _UNAVAILABLE:
        return CollectionResult(
            request.idempotency_key, ITEM_UNAVAILABLE, message="payment network unavailable"
        )
    return CollectionResult(
        request.idempotency_key, ITEM_TIMEOUT, message="no answer from the payment network"
    )


def _replay_item(row: SimulatedCollection, request: CollectionRequest) -> CollectionResult:
    try:
        return _replay(row, _params(request))
    except IdempotencyConflict as exc:
        return CollectionResult(request.idempotency_key, ITEM_CONFLICT, message=str(exc))


def _replay(row: SimulatedCollection, params: dict) -> CollectionResult:
    first = {
        "mandate_reference": row.mandate_reference,
        "agreement_token": row.agreement_token,
        "amount_minor": row.amount_minor,
    }
    if first != params:
        raise IdempotencyConflict(
            f"idempotency key {row.idempotency_key} was first used with other parameters"
        )
    return _result(row)
