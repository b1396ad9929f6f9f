"""Recording outcomes: settling submitted attempts with the network's answers.

One short transaction per batch of answers: attempts settled by conditional
UPDATE (only those still ``submitted`` or ``unknown``, so a janitor and a late
worker cannot both settle one), instalments marked paid, mandates failed or
their sync forgotten as the outcome table says. Chunk collection and the
janitor both record through here.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Case, CharField, F, Value, When
from django.utils import timezone
from django.utils.translation import gettext_noop

from accounts.audit import AuditAction, record_audit_event
from debits.labels import coded
from debits.models import Alert, DebitAttempt, Instalment, Mandate
from debits.notices import FailedDebit, tell_failed_debits
from debits.outcomes import OUTCOMES, SUCCEEDED, GatewayAnswer, MandateEffect
from debits.services.alerts import raise_alert
from debits.services.eligibility import AttemptHistory, next_retry_date


@dataclass
class Claim:
    """A submitted attempt awaiting the network's answer: what a chunk claims and
    presents, what the janitor rebuilds for an unsettled attempt, and all that
    recording needs to settle it."""

    attempt_id: int
    instalment_id: int
    run_id: int | None
    key: str
    mandate_id: int
    mandate_reference: str
    agreement_token: str
    amount: Decimal
    due_date: dt.date
    history: AttemptHistory
    # The day the try counts for: retry schedules run from it.
    on_date: dt.date | None = None


def record_debit_outcomes(*, claims: list[tuple[Claim, GatewayAnswer]]) -> dict[int, str]:
    """Record the gateway's answers for submitted attempts in one short transaction.

    Returns attempt id → normalised code. Only attempts still ``submitted`` or
    ``unknown`` are settled (conditional UPDATE), so a janitor and a late worker
    cannot both settle one attempt.
    """
    now = timezone.now()
    today = timezone.localdate(now)
    codes: dict[int, str] = {}
    groups: dict[tuple, list[tuple[Claim, GatewayAnswer]]] = defaultdict(list)
    for claim, answer in claims:
        code = answer.code
        codes[claim.attempt_id] = code
        outcome = OUTCOMES[code]
        failed = outcome.attempt_state != DebitAttempt.State.SUCCEEDED
        key = (
            outcome.attempt_state,
            code if failed else "",
            answer.raw_code if failed else "",
            next_retry_date(outcome, claim.history, today=claim.on_date or today)
            if outcome.attempt_state == DebitAttempt.State.FAILED
            else None,
            answer.message if failed else "",
        )
        groups[key].append((claim, answer))
    if not claims:
        return codes
    with transaction.atomic():
        if connection.vendor == "postgresql":
            _settle_and_mark_paid(claims, now=now, today=today)
        for (state, code, raw, next_retry_on, message), members in groups.items():
            values = {
                "state": state,
                "failure_code": code,
                "raw_failure_code": raw[:60],
                "failure_message": message,
                "next_retry_on": next_retry_on,
            }
            if state != DebitAttempt.State.UNKNOWN:
                values["finished_at"] = now
            if connection.vendor != "postgresql":
                _settle_attempts(
                    {claim.attempt_id: answer.gateway_reference for claim, answer in members},
                    values,
                )
                if state == DebitAttempt.State.SUCCEEDED:
                    _mark_paid([claim.instalment_id for claim, _ in members], now=now, today=today)
            if OUTCOMES[code or SUCCEEDED].mandate_effect == MandateEffect.FAIL:
                for claim, _ in members:
                    _fail_mandate(claim.mandate_id, code=code, raw=raw, key=claim.key)
            if OUTCOMES[code or SUCCEEDED].mandate_effect == MandateEffect.RESYNC:
                for claim, _ in members:
                    _invalidate_sync(claim.mandate_id, token=claim.agreement_token)
        tell_failed_debits(
            [
                FailedDebit(
                    claim.mandate_id,
                    claim.instalment_id,
                    claim.amount,
                    code,
                    bank_side=OUTCOMES[code].bank_side_fee_cause,
                    next_try_on=next_retry_on,
                )
                for (state, code, _, next_retry_on, _), members in groups.items()
                if state == DebitAttempt.State.FAILED
                for claim, _ in members
            ]
        )
    return codes


# Every attempt of the batch settled with its own answer and every instalment whose
# attempt this statement moved to `succeeded` marked paid, in one statement. Only
# attempts still `submitted` or `unknown` change (a janitor and a late worker
# cannot both settle one), and only the instalments of those are marked paid.
_SETTLE_SQL = """
WITH v AS (
    SELECT * FROM unnest(
        %(ids)s::bigint[], %(states)s::text[], %(codes)s::text[], %(raws)s::text[],
        %(messages)s::text[], %(retries)s::date[], %(references)s::text[]
    ) AS v(id, state, code, raw, message, next_retry_on, reference)
), settled AS (
    UPDATE debits_debitattempt AS a SET
        state = v.state, failure_code = v.code, raw_failure_code = v.raw,
        failure_message = v.message, next_retry_on = v.next_retry_on,
        gateway_reference = v.reference,
        finished_at = CASE WHEN v.state = 'unknown' THEN a.finished_at ELSE %(now)s END
    FROM v
    WHERE a.id = v.id AND a.state IN ('submitted', 'unknown')
    RETURNING a.instalment_id, a.state
)
UPDATE debits_instalment AS i SET
    amount_paid = i.amount_due, paid_at = %(now)s,
    state = CASE WHEN i.due_date < %(today)s THEN 'settled_late' ELSE 'paid' END
FROM settled
WHERE settled.state = 'succeeded' AND i.id = settled.instalment_id
  AND i.state IN ('scheduled', 'due', 'overdue')
"""


def _settle_and_mark_paid(
    claims: list[tuple[Claim, GatewayAnswer]], *, now: dt.datetime, today: dt.date
) -> None:
    rows = []
    for claim, answer in claims:
        outcome = OUTCOMES[answer.code]
        failed = outcome.attempt_state != DebitAttempt.State.SUCCEEDED
        retry = (
            next_retry_date(outcome, claim.history, today=claim.on_date or today)
            if outcome.attempt_state == DebitAttempt.State.FAILED
            else None
        )
        rows.append(
            (
                claim.attempt_id,
                str(outcome.attempt_state),
                answer.code if failed else "",
                answer.raw_code[:60] if failed else "",
                answer.message if failed else "",
                retry,
                answer.gateway_reference,
            )
        )
    columns = list(zip(*rows, strict=True))
    with connection.cursor() as cursor:
        cursor.execute(
            _SETTLE_SQL,
            {
                "ids": list(columns[0]),
                "states": list(columns[1]),
                "codes": list(columns[2]),
                "raws": list(columns[3]),
                "messages": list(columns[4]),
                "retries": list(columns[5]),
                "references": list(columns[6]),
                "now": now,
                "today": today,
            },
        )


def _settle_attempts(references: dict[int, str], values: dict) -> None:
    """One conditional UPDATE for attempts sharing an outcome, each with its own reference.

    Only attempts still ``submitted`` or ``unknown`` change. On PostgreSQL the
    references travel as two arrays joined with ``unnest``: a CASE with one
    branch per row costs more to build in Python than the whole update.
    """
    unsettled = (DebitAttempt.State.SUBMITTED, DebitAttempt.State.UNKNOWN)
    if connection.vendor != "postgresql" or len(set(references.values())) == 1:
        if len(set(references.values())) == 1:
            reference = next(iter(references.values()))
        else:
            reference = Case(
                *[When(pk=pk, then=Value(ref)) for pk, ref in references.items()],
                default=F("gateway_reference"),
                output_field=CharField(),
            )
        DebitAttempt.objects.filter(pk__in=list(references), state__in=unsettled).update(
            gateway_reference=reference, **values
        )
        return
    table = DebitAttempt._meta.db_table
    columns = list(values)
    assignments = ", ".join(f"{connection.ops.quote_name(c)} = %s" for c in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            # bandit B608 does not apply: the table is the model's, the columns are quoted
            # names from our own dict, and every value is a parameter.
            f"UPDATE {table} AS a SET {assignments}, gateway_reference = v.reference "  # noqa: S608 # nosec B608
            "FROM unnest(%s::bigint[], %s::text[]) AS v(id, reference) "
            "WHERE a.id = v.id AND a.state = ANY(%s)",
            [
                *(values[c] for c in columns),
                list(references),
                list(references.values()),
                list(unsettled),
            ],
        )


def _mark_paid(instalment_ids: list[int], *, now: dt.datetime, today: dt.date) -> None:
    Instalment.objects.filter(pk__in=instalment_ids, state__in=Instalment.OPEN_STATES).update(
        amount_paid=F("amount_due"),
        paid_at=now,
        state=Case(
            When(due_date__lt=today, then=Value(Instalment.State.SETTLED_LATE)),
            default=Value(Instalment.State.PAID),
            output_field=CharField(),
        ),
    )


def _fail_mandate(mandate_id: int, *, code: str, raw: str, key: str) -> None:
    """A final answer: the authorisation is gone, stop collecting and tell operations."""
    mandate = Mandate.objects.select_related("card").get(pk=mandate_id)
    moved = Mandate.objects.filter(pk=mandate_id, state__in=Mandate.LIVE_STATES).update(
        state=Mandate.State.FAILED, state_reason=f"Debit answered {code} ({raw})"[:200]
    )
    if not moved:
        return
    record_audit_event(
        actor=None,
        action=AuditAction.MANDATE_FAILED,
        target=mandate,
        summary={"failure_code": code, "raw_failure_code": raw, "idempotency_key": key},
    )
    raise_alert(
        kind=Alert.Kind.MANDATE_FAILED,
        dedup_key=f"mandate_failed:mandate:{mandate_id}",
        severity=Alert.Severity.CRITICAL,
        mandate=mandate,
        message=gettext_noop(
            "Mandate %(mandate)s failed: the debit answered %(code)s. "
            "No further debits will be presented under it."
        ),
        params={"mandate": mandate.reference, "code": coded("failure_code", code)},
    )


def _invalidate_sync(mandate_id: int, *, token: str) -> None:
    """The network refused the agreement we hold: what we recorded as bound is not.

    Sync state is derived from versions, so forget the bound version; the next
    pre-flight binds the card's current one again. Only if the mandate still
    holds the token we presented (a concurrent re-sync may have replaced it).
    """
    Mandate.objects.filter(pk=mandate_id, gateway_agreement_token=token).update(
        synced_credential_version=0
    )
