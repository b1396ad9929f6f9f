"""Collecting one chunk of a run: pre-flight, claim, present, record.

A chunk task re-syncs the chunk's stale mandates first, claims its instalments
(one ``submitted`` attempt each, committed), calls the gateway with no
transaction open, then records every outcome in one short transaction
(``debits.services.recording``). The database decides every race: the partial
unique indexes allow one in-flight and one succeeded attempt per instalment,
and idempotency keys are unique.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from accounts.audit import AuditAction, record_audit_event
from debits.gateways import GatewayError, GatewayTimeout, GatewayUnavailable, get_gateway
from debits.gateways.base import CollectionRequest, IdempotencyConflict, supports_batch
from debits.gateways.pool import call_in_flight
from debits.models import (
    DebitAttempt,
    DebitRun,
    DebitRunChunk,
    Instalment,
    Loan,
    Mandate,
    MandateSync,
    SkippedInstalment,
)
from debits.outcomes import OUTCOMES, GatewayAnswer, MandateEffect
from debits.services.eligibility import (
    INSTALMENT_FIELDS,
    SAME_DAY_BANK_SIDE_RETRIES,
    AnyOf,
    AttemptHistory,
    SkipReason,
    load_collection_context,
    skip_reason,
)
from debits.services.recording import Claim, record_debit_outcomes
from debits.services.runs import complete_run_if_done

logger = logging.getLogger(__name__)


@dataclass
class ChunkSummary:
    """What one chunk did: instalments claimed and skipped, outcome codes counted."""

    claimed: int = 0
    skipped: int = 0
    outcomes: Counter = field(default_factory=Counter)


def collect_debit_chunk(
    *,
    run_id: int,
    instalment_ids: list[int],
    honour_retry_schedule: bool = True,
    chunk_id: int | None = None,
) -> ChunkSummary:
    """Collect one chunk of a run: pre-flight, claim, present, record.

    Safe to run twice (the broker delivers at least once, and the run sweeper
    sends an unfinished chunk again): paid instalments and ones with an attempt
    in flight are not claimed again. ``chunk_id`` names the recorded chunk
    (``DebitRunChunk``); only a delivery that gets through the whole chunk marks
    it finished, so one that died half-way leaves it for the sweeper.
    """
    run = DebitRun.objects.get(pk=run_id)
    ids = sorted(set(instalment_ids))
    summary = ChunkSummary()
    completed = False
    try:
        for _round in range(SAME_DAY_BANK_SIDE_RETRIES):
            _preflight_resync(ids)
            claims, skipped = claim_chunk(
                run=run, instalment_ids=ids, honour_retry_schedule=honour_retry_schedule
            )
            summary.claimed += len(claims)
            summary.skipped += skipped
            answers = present_claims(claims)
            outcomes = record_debit_outcomes(
                claims=[(claims[i], answers[i]) for i in range(len(claims))]
            )
            summary.outcomes.update(outcomes.values())
            # Bank-side answers that re-sync repairs are retried at once, the same day.
            again = [
                claim.instalment_id
                for claim in claims
                if OUTCOMES[outcomes[claim.attempt_id]].mandate_effect == MandateEffect.RESYNC
            ]
            if not again:
                break
            ids, honour_retry_schedule = again, True
        completed = True
    finally:
        if chunk_id is None:
            # A chunk sent without its record (an older message): even one that
            # failed half-way is done for the run's progress, as before; what it
            # claimed and did not record stays `submitted` for the janitor.
            _finish_chunk(run, summary)
        elif completed:
            _finish_chunk(run, summary, chunk_id=chunk_id)
    return summary


def _preflight_resync(instalment_ids: list[int]) -> None:
    """Bind every stale mandate of these instalments to its card's credential version.

    Outside any transaction: the gateway is called. A re-sync that fails leaves
    the mandate behind, and the claim then skips its instalments as out of sync.
    """
    from debits.services.resync import MandateNotResyncable, resync_mandate

    # The chunk's loans first, then their mandates by the loan index: as one join the
    # planner may start from every active mandate (a sequential scan of the whole
    # book per chunk at month-end) since it cannot know how few are out of sync.
    loan_ids = list(
        Instalment.objects.filter(AnyOf(F("id"), instalment_ids))
        .order_by()
        .values_list("loan_id", flat=True)
        .distinct()
    )
    stale = Mandate.objects.filter(
        AnyOf(F("loan_id"), loan_ids), state=Mandate.State.ACTIVE
    ).out_of_sync()
    for mandate in stale:
        try:
            resync_mandate(mandate=mandate, trigger=MandateSync.Trigger.PREFLIGHT)
        except MandateNotResyncable:
            continue


def claim_chunk(
    *, run: DebitRun, instalment_ids: list[int], honour_retry_schedule: bool = True
) -> tuple[list[Claim], int]:
    """Lock the chunk's instalments, re-check every rule, and commit one attempt each."""
    today = run.run_date
    now = timezone.now()
    with transaction.atomic():
        locked = connection.features.has_select_for_update_skip_locked
        rows = lock_chunk_rows(instalment_ids, skip_locked=locked)
        ctx = load_collection_context(rows, today=today)
        skips, candidates = [], []
        # This run's own attempts still in flight (a redelivered chunk), in one query.
        ours_in_flight = _in_flight_for_run(
            [pk for pk, history in ctx.history.items() if history.in_flight],
            run.pk,
        )
        for row in rows:
            reason = skip_reason(
                ctx, row, on_date=today, now=now, honour_retry_schedule=honour_retry_schedule
            )
            mandate = ctx.mandates.get(row["loan_id"])
            if reason is None and not mandate.is_in_sync:
                # Pre-flight could not bind the new credential version: never present
                # an agreement bound to the old one.
                reason = (
                    SkipReason.MANDATE_OUT_OF_SYNC,
                    f"Agreement bound to v{mandate.synced_credential_version}, card is at "
                    f"v{mandate.card_credential_version}",
                )
            if reason is not None:
                if reason[0] == SkipReason.ATTEMPT_IN_FLIGHT and row["id"] in ours_in_flight:
                    continue  # this run's own attempt (a redelivered chunk): not a skip
                skips.append(
                    SkippedInstalment(
                        run=run, instalment_id=row["id"], reason=reason[0], detail=reason[1]
                    )
                )
                continue
            candidates.append((row, mandate, ctx.history.get(row["id"]) or AttemptHistory()))
        attempts = [
            NewAttempt(
                instalment_id=row["id"],
                mandate_id=mandate.pk,
                attempt_number=history.last_number + 1,
                idempotency_key=idempotency_key_for(row["id"], history.last_number + 1),
                amount=row["amount_due"] - row["amount_paid"],
                credential_version=mandate.synced_credential_version,
                agreement_token=mandate.gateway_agreement_token,
            )
            for row, mandate, history in candidates
        ]
        if locked and connection.vendor == "postgresql":
            ours, stale = _insert_claimed_attempts_pg(attempts, run_id=run.pk)
            by_key = {a.idempotency_key: a for a in attempts}
            for key in stale:
                # The card's password changed since the rows above were read: the
                # insert itself refused to present the agreement bound to the old one.
                skips.append(
                    SkippedInstalment(
                        run=run,
                        instalment_id=by_key[key].instalment_id,
                        reason=SkipReason.MANDATE_OUT_OF_SYNC,
                        detail="The card's credential changed while the chunk was claimed",
                    )
                )
        else:
            ours = _insert_claimed_attempts(
                [
                    DebitAttempt(
                        instalment_id=a.instalment_id,
                        mandate_id=a.mandate_id,
                        run=run,
                        attempt_number=a.attempt_number,
                        idempotency_key=a.idempotency_key,
                        amount=a.amount,
                        presented_credential_version=a.credential_version,
                    )
                    for a in attempts
                ]
            )
        if skips:
            SkippedInstalment.objects.bulk_create(skips, ignore_conflicts=True)
    claims = []
    for row, mandate, history in candidates:
        key = idempotency_key_for(row["id"], history.last_number + 1)
        if key in ours:
            claims.append(
                Claim(
                    attempt_id=ours[key],
                    instalment_id=row["id"],
                    run_id=run.pk,
                    key=key,
                    mandate_id=mandate.pk,
                    mandate_reference=mandate.reference,
                    agreement_token=mandate.gateway_agreement_token,
                    amount=row["amount_due"] - row["amount_paid"],
                    due_date=row["due_date"],
                    history=history,
                    on_date=run.run_date,
                )
            )
    return claims, len(skips)


# Claim the attempts, checking in the same statement that each mandate is still
# active and bound to the card's current credential version with the token we are
# about to present (a password change committed after the rules ran is caught
# here, not at the network). ON CONFLICT DO NOTHING with no target answers every
# unique constraint at once: the idempotency key, one attempt per number, one
# in-flight attempt per instalment. What it returns is ours; nothing else is.
_CLAIM_SQL = """
WITH v AS (
    SELECT * FROM unnest(
        %(instalments)s::bigint[], %(mandates)s::bigint[], %(numbers)s::int[],
        %(keys)s::text[], %(amounts)s::numeric[], %(versions)s::int[], %(tokens)s::text[]
    ) AS v(instalment_id, mandate_id, attempt_number, idempotency_key, amount, version, token)
), fresh AS (
    SELECT v.* FROM v
    JOIN debits_mandate m ON m.id = v.mandate_id
    JOIN accounts_card c ON c.id = m.card_id
    WHERE m.state = 'active' AND m.synced_credential_version = v.version
      AND c.credential_version = v.version AND m.gateway_agreement_token = v.token
), inserted AS (
    INSERT INTO debits_debitattempt (
        instalment_id, mandate_id, run_id, attempt_number, idempotency_key, amount,
        presented_credential_version, state, failure_code, raw_failure_code,
        failure_message, gateway_reference, created_at, submitted_at
    )
    SELECT instalment_id, mandate_id, %(run)s, attempt_number, idempotency_key, amount,
           version, 'submitted', '', '', '', '', %(now)s, %(now)s
    FROM fresh
    ON CONFLICT DO NOTHING
    RETURNING idempotency_key, id
)
SELECT v.idempotency_key, inserted.id, fresh.idempotency_key IS NULL
FROM v
LEFT JOIN fresh ON fresh.idempotency_key = v.idempotency_key
LEFT JOIN inserted ON inserted.idempotency_key = v.idempotency_key
"""


class NewAttempt(NamedTuple):
    """An attempt about to be claimed: plain values, as the claim's one statement takes
    them (a model instance per row cost a tenth of a chunk's time)."""

    instalment_id: int
    mandate_id: int
    attempt_number: int
    idempotency_key: str
    amount: Decimal
    credential_version: int
    agreement_token: str


def claim_parameters(attempts: list[NewAttempt], *, run_id: int) -> dict:
    return {
        "instalments": [a.instalment_id for a in attempts],
        "mandates": [a.mandate_id for a in attempts],
        "numbers": [a.attempt_number for a in attempts],
        "keys": [a.idempotency_key for a in attempts],
        "amounts": [a.amount for a in attempts],
        "versions": [a.credential_version for a in attempts],
        "tokens": [a.agreement_token for a in attempts],
        "run": run_id,
        "now": timezone.now(),
    }


def _insert_claimed_attempts_pg(
    attempts: list[NewAttempt], *, run_id: int
) -> tuple[dict[str, int], list[str]]:
    """One statement: (key -> id of the attempts claimed, keys refused as out of sync)."""
    if not attempts:
        return {}, []
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM_SQL, claim_parameters(attempts, run_id=run_id))
        rows = cursor.fetchall()
    ours = {key: pk for key, pk, _ in rows if pk is not None}
    return ours, [key for key, _, stale in rows if stale]


def lock_chunk_query(instalment_ids: list[int], *, skip_locked: bool):
    """The chunk's open instalments, locked; another worker holding a row (a
    redelivered chunk) has it in hand, so it is skipped. Without the loan's join:
    joined, the planner hashed the whole loan table for every chunk (EXPLAIN in
    bench/debit_throughput.py: a sequential scan of 100,000 loans, 64 of the
    lock's 108 ms), so the loans' references come by primary key afterwards."""
    qs = Instalment.objects.filter(AnyOf(F("pk"), instalment_ids), state__in=Instalment.OPEN_STATES)
    if skip_locked:
        qs = qs.select_for_update(skip_locked=True, of=("self",))
    return qs.order_by("pk").values(*(f for f in INSTALMENT_FIELDS if f != "loan__reference"))


def lock_chunk_rows(instalment_ids: list[int], *, skip_locked: bool) -> list[dict]:
    rows = list(lock_chunk_query(instalment_ids, skip_locked=skip_locked))
    references = dict(
        Loan.objects.filter(AnyOf(F("pk"), sorted({r["loan_id"] for r in rows}))).values_list(
            "id", "reference"
        )
    )
    for row in rows:
        row["loan__reference"] = references[row["loan_id"]]
    return rows


def _insert_claimed_attempts(attempts: list[DebitAttempt]) -> dict[str, int]:
    """Elsewhere (SQLite): write the claim's attempts as ``created``, then move them to
    ``submitted`` by a conditional UPDATE stamped with this claim's time: the rows
    carrying the stamp are ours, and the in-flight unique index keeps any other
    claimer's out. Returns key -> id of those that are ours."""
    if not attempts:
        return {}
    claim_stamp = timezone.now()
    DebitAttempt.objects.bulk_create(attempts, ignore_conflicts=True)
    keys = [a.idempotency_key for a in attempts]
    DebitAttempt.objects.filter(idempotency_key__in=keys, state=DebitAttempt.State.CREATED).update(
        state=DebitAttempt.State.SUBMITTED, submitted_at=claim_stamp
    )
    return dict(
        DebitAttempt.objects.filter(
            idempotency_key__in=keys,
            state=DebitAttempt.State.SUBMITTED,
            submitted_at=claim_stamp,
        ).values_list("idempotency_key", "pk")
    )


def _in_flight_for_run(instalment_ids: list[int], run_id: int) -> set[int]:
    if not instalment_ids:
        return set()
    return set(
        DebitAttempt.objects.filter(
            instalment_id__in=instalment_ids,
            run_id=run_id,
            state__in=DebitAttempt.IN_FLIGHT_STATES,
        ).values_list("instalment_id", flat=True)
    )


def idempotency_key_for(instalment_id: int, attempt_number: int) -> str:
    return f"inst-{instalment_id}-{attempt_number}"


def present_claims(claims: list[Claim]) -> dict[int, GatewayAnswer]:
    """The network's answer to every claim, by position: in batch calls where the
    gateway takes them (``DEBIT_GATEWAY_BATCH_SIZE`` per call), else one call per
    claim with ``DEBIT_GATEWAY_CONCURRENCY`` in flight."""
    size = settings.DEBIT_GATEWAY_BATCH_SIZE
    if not claims:
        return {}
    if size <= 0 or not supports_batch(get_gateway()):
        return call_in_flight(claims, _present)
    batches = [claims[i : i + size] for i in range(0, len(claims), size)]
    answered = call_in_flight(batches, _present_batch)
    flat = [answer for index in range(len(batches)) for answer in answered[index]]
    return dict(enumerate(flat))


def _present_batch(claims: list[Claim]) -> list[GatewayAnswer]:
    """One batch call; a call that fails as a whole answers every item alike
    (a timeout leaves every attempt ``unknown`` for the janitor)."""
    try:
        results = get_gateway().collect_batch(
            [
                CollectionRequest(
                    idempotency_key=claim.key,
                    mandate_reference=claim.mandate_reference,
                    agreement_token=claim.agreement_token,
                    amount_minor=amount_in_minor_units(claim.amount),
                )
                for claim in claims
            ]
        )
    except (GatewayTimeout, GatewayUnavailable, IdempotencyConflict) as exc:
        return [GatewayAnswer(raw_code=exc.code, message=str(exc)[:300])] * len(claims)
    except GatewayError as exc:
        return [GatewayAnswer(raw_code="gateway_error", message=f"{exc.code}: {exc}"[:300])] * len(
            claims
        )
    except Exception as exc:
        logger.exception("gateway batch collect failed", extra={"items": len(claims)})
        return [GatewayAnswer(raw_code="gateway_error", message=type(exc).__name__)] * len(claims)
    answers = []
    for index, claim in enumerate(claims):
        result = results[index] if index < len(results) else None
        if result is None or result.idempotency_key != claim.key:
            # An answer we cannot pair with its instruction: unknown, for the janitor.
            answers.append(GatewayAnswer(raw_code="gateway_error", message="unpaired answer"))
            continue
        answers.append(
            GatewayAnswer(
                raw_code=result.outcome,
                gateway_reference=result.gateway_reference[:80],
                message=result.message[:300],
            )
        )
    return answers


def _present(claim: Claim) -> GatewayAnswer:
    """Call the gateway for one claim; every failure becomes an answer, never an exception."""
    try:
        result = get_gateway().collect(
            idempotency_key=claim.key,
            mandate_reference=claim.mandate_reference,
            agreement_token=claim.agreement_token,
            amount_minor=amount_in_minor_units(claim.amount),
        )
    except (GatewayTimeout, GatewayUnavailable, IdempotencyConflict) as exc:
        # Answers the outcome table knows by their own code.
        return GatewayAnswer(raw_code=exc.code, message=str(exc)[:300])
    except GatewayError as exc:
        return GatewayAnswer(raw_code="gateway_error", message=f"{exc.code}: {exc}"[:300])
    except Exception as exc:
        # We cannot tell whether the request left: the janitor asks the gateway.
        logger.exception("gateway collect failed", extra={"idempotency_key": claim.key})
        return GatewayAnswer(raw_code="gateway_error", message=f"{type(exc).__name__}"[:300])
    return GatewayAnswer(
        raw_code=result.outcome,
        gateway_reference=result.gateway_reference[:80],
        message=result.message[:300],
    )


def amount_in_minor_units(amount: Decimal) -> int:
    minor = amount.scaleb(2)
    if minor != minor.to_integral_value():
        raise ValueError(f"{amount} is not a whole number of fen")
    return int(minor)


def _finish_chunk(run: DebitRun, summary: ChunkSummary, *, chunk_id: int | None = None) -> None:
    """The run's progress: counters bumped, the chunk audited, and the run completed
    (its counters recounted from the rows) when this was its last chunk. A recorded
    chunk counts once, however many deliveries finish it."""
    states = Counter()
    for code, count in summary.outcomes.items():
        states[OUTCOMES[code].attempt_state] += count
    with transaction.atomic():
        first = 1
        if chunk_id is not None:
            first = DebitRunChunk.objects.filter(pk=chunk_id, finished_at__isnull=True).update(
                finished_at=timezone.now()
            )
        DebitRun.objects.filter(pk=run.pk).update(
            chunks_done=F("chunks_done") + first,
            skipped_count=F("skipped_count") + summary.skipped,
            succeeded_count=F("succeeded_count") + states[DebitAttempt.State.SUCCEEDED],
            failed_count=F("failed_count") + states[DebitAttempt.State.FAILED],
            unknown_count=F("unknown_count") + states[DebitAttempt.State.UNKNOWN],
        )
        record_audit_event(
            actor=None,
            action=AuditAction.DEBIT_RUN_CHUNK_COLLECTED,
            target=run,
            summary={
                "claimed": summary.claimed,
                "skipped": summary.skipped,
                "outcomes": dict(summary.outcomes),
            },
        )
        complete_run_if_done(run.pk)
