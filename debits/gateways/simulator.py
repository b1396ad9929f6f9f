"""A payment network stand-in that behaves like the real one, faults included.

It keeps its own books (agreements bound to credential versions, a ledger of
collections by idempotency key) in the database, so several worker processes
share one network. Faults are injected by rate, each decided from
``hash(seed, request key, presentation number)`` rather than a shared random
generator: the same run gives the same answers whatever the process or order,
and a retried request rolls afresh instead of failing forever. Tests and the
demo can also script an exact answer for one mandate (``script_fault``).

The simulator writes through the caller's database connection: call it
outside any open transaction (as the debit engine and re-sync do), or its
books roll back with the caller's. On PostgreSQL a collect costs two
statements and one commit: one read of the ledger, the presentations so far,
the agreement, the card's credential version and whether a fault is scripted;
one write, of the ledger row (``ON CONFLICT DO NOTHING``: the first writer
wins) or, for an answer that carried out nothing, of the presentation. Only a
mandate with a scripted fault pays for the locked read that consumes it.
"""

import hashlib
import secrets
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from debits.gateways.base import (
    AgreementBinding,
    CollectionResult,
    GatewayTimeout,
    GatewayUnavailable,
    IdempotencyConflict,
    check_amount_minor,
)
from debits.models import (
    Mandate,
    SimulatedAgreement,
    SimulatedCollection,
    SimulatedFault,
    SimulatedPresentation,
)

SUCCEEDED = "succeeded"
AGREEMENT_STALE = "agreement_stale"
AGREEMENT_REVOKED = "agreement_revoked"
INSUFFICIENT_FUNDS = "insufficient_funds"

# Scripted faults that are a business answer the network records in its ledger.
_RECORDED_FAULTS = {
    SimulatedFault.Outcome.INSUFFICIENT_FUNDS,
    SimulatedFault.Outcome.ACCOUNT_CLOSED,
    SimulatedFault.Outcome.AUTHORISATION_WITHDRAWN,
    SimulatedFault.Outcome.LIMIT_EXCEEDED,
}
_BIND_FAULTS = {SimulatedFault.Outcome.BIND_UNAVAILABLE}


def _fraction(*parts: object) -> float:
    """A number in [0, 1) fixed by its inputs: the same on every process and run."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True)
class FaultRates:
    insufficient_funds: float = 0.0
    timeout: float = 0.0
    unavailable: float = 0.0


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

    def _wait(self) -> None:
        latency = (
            settings.GATEWAY_SIMULATOR_LATENCY_MS if self._latency_ms is None else self._latency_ms
        )
        if latency > 0:
            time.sleep(latency / 1000)

    # --- the interface ---------------------------------------------------------
    def bind_agreement(
        self, *, mandate_reference: str, account_fingerprint: str, credential_version: int
    ) -> AgreementBinding:
        self._wait()
        request_key = f"bind:{mandate_reference}:{credential_version}"
        presentation = _count_presentation(request_key)
        if _take_scripted_fault(mandate_reference, kinds=_BIND_FAULTS):
            raise GatewayUnavailable("agreement service unavailable (scripted)")
        if _fraction(self.seed, "unavailable", request_key, presentation) < self.rates.unavailable:
            raise GatewayUnavailable("agreement service unavailable (injected)")

        with transaction.atomic():
            agreement = (
                SimulatedAgreement.objects.select_for_update()
                .filter(mandate_reference=mandate_reference)
                .first()
            )
            created = False
            if agreement is None:
                agreement, created = _get_or_create_agreement(mandate_reference, credential_version)
                if not created:  # another process bound it first: lock theirs
                    agreement = SimulatedAgreement.objects.select_for_update().get(pk=agreement.pk)
            # Same version: the same token (idempotent). An older version than the
            # one bound is never bound backwards: the network answers with the
            # binding it holds, whose version tells the caller the truth.
            if not created and agreement.credential_version < credential_version:
                agreement.token = _new_token(mandate_reference, credential_version)
                agreement.credential_version = credential_version
                agreement.bound_at = timezone.now()
                agreement.save(update_fields=["token", "credential_version", "bound_at"])
        return AgreementBinding(
            mandate_reference=mandate_reference,
            agreement_token=agreement.token,
            credential_version=agreement.credential_version,
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
        params = {
            "mandate_reference": mandate_reference,
            "agreement_token": agreement_token,
            "amount_minor": amount_minor,
        }
        if connection.vendor == "postgresql":
            seen = _presentation_pg(idempotency_key, mandate_reference)
        else:
            seen = _presentation_portable(idempotency_key, mandate_reference)
        if seen.first is not None:
            return _replay(seen.first, params)

        presentation = seen.presentation

        def carried_out_nothing() -> None:
            # Only an answer that leaves no ledger row can be presented again
            # (a ledger row is replayed), so only it needs its presentation kept.
            if not seen.counted:
                _record_presentation_pg(f"collect:{idempotency_key}")

        scripted = (
            _take_scripted_fault(
                mandate_reference,
                kinds=set(SimulatedFault.Outcome) - _BIND_FAULTS,
            )
            if seen.fault_scripted
            else None
        )
        roll = _fraction(self.seed, "collect", idempotency_key, presentation)
        rates = self.rates
        timeout_after_collect = False
        if scripted == SimulatedFault.Outcome.UNAVAILABLE or (
            scripted is None and roll < rates.unavailable
        ):
            carried_out_nothing()
            raise GatewayUnavailable("payment network unavailable")
        if scripted == SimulatedFault.Outcome.TIMEOUT_BEFORE_COLLECT:
            carried_out_nothing()
            raise GatewayTimeout("no answer from the payment network")
        if scripted == SimulatedFault.Outcome.TIMEOUT_AFTER_COLLECT:
            timeout_after_collect = True
        elif scripted is None and roll < rates.unavailable + rates.timeout:
            # Half of injected timeouts happen after the network carried out the
            # collection, half before: get_status is the only way to tell.
            if _fraction(self.seed, "timeout-side", idempotency_key, presentation) < 0.5:
                carried_out_nothing()
                raise GatewayTimeout("no answer from the payment network")
            timeout_after_collect = True

        outcome = SUCCEEDED
        if (
            seen.agreement_token is None
            or seen.agreement_token != agreement_token
            or seen.agreement_version < seen.card_version
        ):
            outcome = AGREEMENT_STALE
        elif seen.agreement_revoked:
            outcome = AGREEMENT_REVOKED
        elif scripted in _RECORDED_FAULTS:
            outcome = str(scripted)
        elif scripted is None and (
            # Its own band of the roll: a timeout after collecting carried out a
            # successful collection, not a refusal.
            rates.unavailable + rates.timeout
            <= roll
            < rates.unavailable + rates.timeout + rates.insufficient_funds
        ):
            outcome = INSUFFICIENT_FUNDS

        row = _record_collection(
            SimulatedCollection(
                idempotency_key=idempotency_key,
                outcome=outcome,
                gateway_reference=f"SIM{secrets.token_hex(8).upper()}",
                **params,
            )
        )
        if row is None:
            # The same key presented concurrently: the first writer's result stands.
            row = SimulatedCollection.objects.get(idempotency_key=idempotency_key)
            return _replay(row, params)
        if timeout_after_collect:
            raise GatewayTimeout("no answer from the payment network")
        return _result(row)

    def get_status(self, *, idempotency_key: str) -> CollectionResult:
        self._wait()
        row = SimulatedCollection.objects.filter(idempotency_key=idempotency_key).first()
        if row is None:
            return CollectionResult(idempotency_key=idempotency_key, outcome="", found=False)
        return _result(row)


def _result(row: SimulatedCollection) -> CollectionResult:
    return CollectionResult(
        idempotency_key=row.idempotency_key,
        outcome=row.outcome,
        gateway_reference=row.gateway_reference,
        message="" if row.outcome == SUCCEEDED else row.outcome.replace("_", " "),
    )


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


@dataclass(frozen=True)
class _Seen:
    """What the network knows when a collect arrives, read in one go."""

    first: SimulatedCollection | None  # the ledger's row for this key, if any
    presentation: int  # this request's presentation number (0 when replayed)
    counted: bool  # the presentation is already recorded
    agreement_token: str | None
    agreement_version: int
    agreement_revoked: bool
    card_version: int
    fault_scripted: bool  # a collect fault may be scripted for the mandate


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _presentation_pg(idempotency_key: str, mandate_reference: str) -> _Seen:
    """Read the ledger, the presentations so far, the agreement, the card's credential
    version and whether a fault is scripted, in one read-only statement.

    The presentation is written later, and only when the answer leaves no ledger
    row (``_record_presentation_pg``): a key in the ledger is replayed, never
    presented again, so most collects commit once, with the ledger row.
    """
    from accounts.models import Card

    sql = f"""
        SELECT
            p."count",
            c.mandate_reference, c.agreement_token, c.amount_minor, c.outcome,
            c.gateway_reference,
            a.token, a.credential_version, a.revoked,
            (
                SELECT card.credential_version
                FROM {_table(Mandate)} m JOIN {_table(Card)} card ON card.id = m.card_id
                WHERE m.reference = %(reference)s ORDER BY m.id LIMIT 1
            ),
            EXISTS (
                SELECT 1 FROM {_table(SimulatedFault)} f
                WHERE f.mandate_reference = %(reference)s AND f.outcome <> ALL(%(bind)s)
                AND (f.remaining IS NULL OR f.remaining <> 0)
            )
        FROM (SELECT 1) AS one
        LEFT JOIN {_table(SimulatedCollection)} c ON c.idempotency_key = %(key)s
        LEFT JOIN {_table(SimulatedPresentation)} p ON p.request_key = %(request_key)s
        LEFT JOIN {_table(SimulatedAgreement)} a ON a.mandate_reference = %(reference)s
    """  # noqa: S608 # nosec B608 - table names are the models' own, every value a parameter
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            {
                "request_key": f"collect:{idempotency_key}",
                "key": idempotency_key,
                "reference": mandate_reference,
                "bind": [str(kind) for kind in _BIND_FAULTS],
            },
        )
        (count, c_ref, c_token, c_amount, c_outcome, c_gw_ref, token, version, revoked, card,
         fault) = cursor.fetchone()  # fmt: skip
    first = None
    if c_ref is not None:
        first = SimulatedCollection(
            idempotency_key=idempotency_key,
            mandate_reference=c_ref,
            agreement_token=c_token,
            amount_minor=c_amount,
            outcome=c_outcome,
            gateway_reference=c_gw_ref,
        )
    return _Seen(
        first=first,
        presentation=0 if first is not None else (count or 0) + 1,
        counted=False,
        agreement_token=token,
        agreement_version=version or 0,
        agreement_revoked=bool(revoked),
        card_version=card or 0,
        fault_scripted=bool(fault),
    )


def _presentation_portable(idempotency_key: str, mandate_reference: str) -> _Seen:
    first = SimulatedCollection.objects.filter(idempotency_key=idempotency_key).first()
    if first is not None:
        return _Seen(first, 0, True, None, 0, False, 0, False)
    presentation = _count_presentation(f"collect:{idempotency_key}")
    agreement = SimulatedAgreement.objects.filter(mandate_reference=mandate_reference).first()
    return _Seen(
        first=None,
        presentation=presentation,
        counted=True,
        agreement_token=agreement.token if agreement else None,
        agreement_version=agreement.credential_version if agreement else 0,
        agreement_revoked=bool(agreement and agreement.revoked),
        card_version=_card_credential_version(mandate_reference),
        fault_scripted=True,
    )


def _record_presentation_pg(request_key: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO {_table(SimulatedPresentation)} AS p (request_key, "count") '  # noqa: S608 # nosec B608
            'VALUES (%s, 1) ON CONFLICT (request_key) DO UPDATE SET "count" = p."count" + 1',
            [request_key],
        )


def _record_collection(row: SimulatedCollection) -> SimulatedCollection | None:
    """Write the ledger row; None when the key is already there (first writer wins)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {_table(SimulatedCollection)} "  # noqa: S608 # nosec B608
                "(idempotency_key, mandate_reference, agreement_token, amount_minor, outcome, "
                "gateway_reference, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
                [
                    row.idempotency_key,
                    row.mandate_reference,
                    row.agreement_token,
                    row.amount_minor,
                    row.outcome,
                    row.gateway_reference,
                    row.created_at,
                ],
            )
            inserted = cursor.fetchone()
        if inserted is None:
            return None
        row.pk = inserted[0]
        return row
    try:
        with transaction.atomic():
            row.save(force_insert=True)
    except IntegrityError:
        return None
    return row


def _card_credential_version(mandate_reference: str) -> int:
    """The card's credential version as the card network knows it.

    The network checks an agreement against the card's current credential: once
    the password changed, an agreement bound to the old one is stale even if
    nobody re-bound it. That is exactly the failure automatic re-sync prevents.
    """
    version = (
        Mandate.objects.filter(reference=mandate_reference)
        .values_list("card__credential_version", flat=True)
        .first()
    )
    return version or 0


def _new_token(mandate_reference: str, credential_version: int) -> str:
    return f"agr-{mandate_reference}-v{credential_version}-{secrets.token_hex(8)}"


def _get_or_create_agreement(
    mandate_reference: str, credential_version: int
) -> tuple[SimulatedAgreement, bool]:
    """The unique mandate_reference decides a race between two first bindings."""
    try:
        with transaction.atomic():
            return (
                SimulatedAgreement.objects.create(
                    mandate_reference=mandate_reference,
                    token=_new_token(mandate_reference, credential_version),
                    credential_version=credential_version,
                ),
                True,
            )
    except IntegrityError:
        return SimulatedAgreement.objects.get(mandate_reference=mandate_reference), False


def _count_presentation(request_key: str) -> int:
    """Record one more presentation of this request and return its number (1, 2, ...)."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                SimulatedPresentation.objects.create(request_key=request_key, count=1)
                return 1
        except IntegrityError:
            pass
        SimulatedPresentation.objects.filter(request_key=request_key).update(count=F("count") + 1)
        return SimulatedPresentation.objects.get(request_key=request_key).count


def _take_scripted_fault(mandate_reference: str, *, kinds: set[str]) -> str | None:
    """Consume the oldest scripted fault of these kinds for the mandate, if any."""
    with transaction.atomic():
        fault = (
            SimulatedFault.objects.select_for_update()
            .filter(mandate_reference=mandate_reference, outcome__in=kinds)
            .exclude(remaining=0)
            .order_by("created_at", "id")
            .first()
        )
        if fault is None:
            return None
        if fault.remaining is not None:
            SimulatedFault.objects.filter(pk=fault.pk).update(remaining=F("remaining") - 1)
        return fault.outcome


# --- Levers for tests and the demo ---------------------------------------------


def script_fault(*, mandate_reference: str, outcome: str, times: int | None = 1) -> SimulatedFault:
    """Make the next ``times`` calls for this mandate answer ``outcome`` (None: every call)."""
    return SimulatedFault.objects.create(
        mandate_reference=mandate_reference, outcome=outcome, remaining=times
    )


def revoke_agreement(*, mandate_reference: str) -> None:
    """The customer withdrew the authorisation at the network's side."""
    SimulatedAgreement.objects.filter(mandate_reference=mandate_reference).update(revoked=True)


def bound_version(mandate_reference: str) -> int | None:
    """The credential version the network holds for a mandate (None if never bound)."""
    return (
        SimulatedAgreement.objects.filter(mandate_reference=mandate_reference)
        .values_list("credential_version", flat=True)
        .first()
    )
