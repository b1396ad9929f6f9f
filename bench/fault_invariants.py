"""What the fault-injection run proves, read from the engine's rows and the network's books.

Nothing here writes: the checks read the bank's tables (instalments, attempts,
runs, chunks, mandates, outbox, notices) and the simulated network's own
(ledger, presentations, agreements) and compare them. Imported by
``bench/fault_injection.py`` after Django is set up.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

from accounts.models import Card, CustomerNotice, OutboxEvent
from debits.models import DebitAttempt, DebitRun, DebitRunChunk, Instalment, Mandate
from debits.outcomes import OUTCOMES, RetryPolicy
from debits.services.eligibility import INSTALMENT_FIELDS, load_collection_context, skip_reason
from simulator.faults import fraction
from simulator.models import SimulatedAgreement, SimulatedCollection, SimulatedPresentation

# A claim reads the card's version a little before it stamps its attempts; a
# change the driver saw committed less than this before the stamp may have
# committed after the read, and is a race the network itself decides.
CLAIM_READ_MARGIN = dt.timedelta(seconds=2)
TOKEN_VERSION = re.compile(r"-v(\d+)(?:-|$)")


@dataclass
class Findings:
    """Every invariant's verdict, and the figures of the table."""

    due: int = 0
    collected: int = 0
    left_for_retry: Counter = field(default_factory=Counter)
    duplicates: int = 0
    lost: int = 0
    money_mismatched: int = 0
    stale_collects: int = 0
    raced_changes: int = 0
    unsynced_changes: int = 0
    open_outbox: int = 0
    open_notices: int = 0
    runs_unfinished: int = 0
    chunks_unfinished: int = 0
    faults: Counter = field(default_factory=Counter)
    money: tuple[Decimal, Decimal] = (Decimal(0), Decimal(0))  # bank, network
    problems: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        if len(self.problems) < 40:
            self.problems.append(message)


def collectable_now(today: dt.date) -> int:
    """Open instalments a retry run would collect now (the engine's own rules)."""
    now = timezone.now()
    count, last = 0, 0
    base = Instalment.objects.filter(
        state__in=Instalment.OPEN_STATES, due_date__lte=today
    ).order_by("pk")
    while rows := list(base.filter(pk__gt=last).values(*INSTALMENT_FIELDS)[:5000]):
        last = rows[-1]["id"]
        ctx = load_collection_context(rows, today=today)
        for row in rows:
            if skip_reason(ctx, row, on_date=today, now=now, honour_retry_schedule=True) is None:
                count += 1
    return count


def settled_state(today: dt.date) -> dict[str, int]:
    """What is still moving; the system has settled when every figure is 0."""
    return {
        "runs running": DebitRun.objects.filter(state=DebitRun.State.RUNNING).count(),
        "attempts in flight": DebitAttempt.objects.filter(
            state__in=DebitAttempt.IN_FLIGHT_STATES
        ).count(),
        "outbox events open": OutboxEvent.objects.filter(processed_at__isnull=True).count(),
        "notices unsent": CustomerNotice.objects.filter(sent_at__isnull=True).count(),
        "mandates out of sync": Mandate.objects.filter(state__in=Mandate.LIVE_STATES)
        .out_of_sync()
        .count(),
        "collectable now": collectable_now(today),
    }


def _token_version(token: str) -> int | None:
    match = TOKEN_VERSION.search(token)
    return int(match.group(1)) if match else None


def check(*, due_ids: list[int], changes: list[tuple[int, int, dt.datetime]]) -> Findings:
    """Every invariant of the run. ``changes``: (card id, version, time the driver saw it
    committed) for every password change the driver made."""
    f = Findings(due=len(due_ids))
    due = set(due_ids)
    instalments = {
        row["id"]: row
        for row in Instalment.objects.filter(pk__in=due).values(
            "id", "state", "amount_due", "amount_paid", "loan_id"
        )
    }
    attempts = defaultdict(list)
    for a in DebitAttempt.objects.filter(instalment_id__in=due).values(
        "id", "instalment_id", "attempt_number", "state", "failure_code", "next_retry_on",
        "amount", "idempotency_key", "presented_credential_version", "submitted_at",
        "mandate__card_id",
    ):  # fmt: skip
        attempts[a["instalment_id"]].append(a)
    by_key = {a["idempotency_key"]: a for rows in attempts.values() for a in rows}
    ledger = list(
        SimulatedCollection.objects.filter(idempotency_key__startswith="inst-").values(
            "idempotency_key", "outcome", "amount_minor", "agreement_token"
        )
    )
    ledger_ok = defaultdict(list)
    for row in ledger:
        if row["outcome"] == "succeeded":
            ledger_ok[int(row["idempotency_key"].split("-")[1])].append(row)

    # Exactly once, on both sides, and the same money on both sides.
    for pk in due:
        inst = instalments[pk]
        ok_attempts = [a for a in attempts[pk] if a["state"] == DebitAttempt.State.SUCCEEDED]
        ok_ledger = ledger_ok.get(pk, [])
        if len(ok_attempts) > 1 or len(ok_ledger) > 1:
            f.duplicates += 1
            f.fail(f"instalment {pk}: {len(ok_ledger)} collections at the network")
            continue
        paid = inst["state"] in (Instalment.State.PAID, Instalment.State.SETTLED_LATE)
        if ok_ledger:
            row = ok_ledger[0]
            mine = by_key.get(row["idempotency_key"])
            if not paid or mine is None or mine["state"] != DebitAttempt.State.SUCCEEDED:
                f.lost += 1
                f.fail(f"instalment {pk}: collected at the network, not recorded paid")
                continue
            amount_minor = int(mine["amount"].scaleb(2))
            if not (row["amount_minor"] == amount_minor and inst["amount_paid"] * 100 ==
                    amount_minor and inst["amount_paid"] == inst["amount_due"]):  # fmt: skip
                f.money_mismatched += 1
                f.fail(f"instalment {pk}: {row['amount_minor']} fen collected, {mine['amount']}")
            f.collected += 1
            continue
        if paid or ok_attempts:
            f.money_mismatched += 1
            f.fail(f"instalment {pk}: recorded paid, the network collected nothing")
            continue
        explained = _why_left_open(attempts[pk])
        if explained is None:
            f.lost += 1
            f.fail(f"instalment {pk}: open with no recorded reason ({attempts[pk][-1:]})")
        else:
            f.left_for_retry[explained] += 1
    f.money = _money(due)
    if f.money[0] != f.money[1]:
        f.money_mismatched += 1
        f.fail(f"collected {f.money[0]} by the bank's rows, {f.money[1]} by the network's")

    _check_no_stale_collect(f, by_key, ledger, changes)
    _check_changes_synced(f, changes)
    f.open_outbox = OutboxEvent.objects.filter(processed_at__isnull=True).count()
    f.open_notices = CustomerNotice.objects.filter(sent_at__isnull=True).count()
    abandoned = OutboxEvent.objects.filter(last_error__startswith="gave up").count()
    if abandoned:
        f.fail(f"{abandoned} outbox event(s) closed by giving up, not by syncing")
        f.unsynced_changes += abandoned
    f.runs_unfinished = DebitRun.objects.filter(state=DebitRun.State.RUNNING).count()
    f.chunks_unfinished = DebitRunChunk.objects.filter(finished_at__isnull=True).count()
    f.faults = injected_faults()
    return f


def _why_left_open(rows: list[dict]) -> str | None:
    """The recorded, explained state an open instalment was left in, or None."""
    if not rows:
        return None
    last = max(rows, key=lambda a: a["attempt_number"])
    if last["state"] != DebitAttempt.State.FAILED or not last["failure_code"]:
        return None
    outcome = OUTCOMES.get(last["failure_code"])
    if outcome is None:
        return None
    if last["next_retry_on"] is not None:
        return f"{last['failure_code']}, next try {last['next_retry_on']}"
    if outcome.retry in (RetryPolicy.NONE, RetryPolicy.SCHEDULE):
        return f"{last['failure_code']}, no automatic retry (staff decide)"
    return None


def _money(due: set[int]) -> tuple[Decimal, Decimal]:
    bank = DebitAttempt.objects.filter(
        instalment_id__in=due, state=DebitAttempt.State.SUCCEEDED
    ).aggregate(s=Sum("amount"))["s"] or Decimal(0)
    network = (
        SimulatedCollection.objects.filter(outcome="succeeded").aggregate(s=Sum("amount_minor"))[
            "s"
        ]
        or 0
    )
    return bank, Decimal(network).scaleb(-2)


def _check_no_stale_collect(f: Findings, by_key: dict, ledger: list[dict], changes) -> None:
    """No succeeded collect under an agreement bound before a change the claim could see.

    The network's ledger says which token each collection was presented under
    (its bound version is in the token); the engine's attempt says which
    version it presented and when it claimed. A change committed before the
    claim (less a margin for the claim's read) with a higher version is a stale
    collect; one committed during the claim is a race the network decided.
    """
    committed = defaultdict(list)
    for card_id, version, at in changes:
        committed[card_id].append((at, version))
    for row in ledger:
        if row["outcome"] != "succeeded":
            continue
        attempt = by_key.get(row["idempotency_key"])
        if attempt is None:
            continue
        token_version = _token_version(row["agreement_token"])
        if token_version != attempt["presented_credential_version"]:
            f.stale_collects += 1
            f.fail(f"{row['idempotency_key']}: token v{token_version}, presented as "
                   f"v{attempt['presented_credential_version']}")  # fmt: skip
            continue
        for at, version in committed.get(attempt["mandate__card_id"], ()):
            if version <= token_version or at > attempt["submitted_at"]:
                continue
            if at < attempt["submitted_at"] - CLAIM_READ_MARGIN:
                f.stale_collects += 1
                f.fail(f"{row['idempotency_key']}: collected under v{token_version} although "
                       f"v{version} was committed {at:%H:%M:%S.%f} before the claim")  # fmt: skip
            else:
                f.raced_changes += 1


def _check_changes_synced(f: Findings, changes) -> None:
    """Every card changed in the run: each live mandate bound to the card's version,
    in the bank's rows and in the network's agreements, with the same token."""
    cards = {card_id for card_id, _, _ in changes}
    versions = dict(Card.objects.filter(pk__in=cards).values_list("pk", "credential_version"))
    network = {
        a.mandate_reference: a
        for a in SimulatedAgreement.objects.filter(
            mandate_reference__in=Mandate.objects.filter(card_id__in=cards).values("reference")
        )
    }
    for mandate in Mandate.objects.filter(card_id__in=cards, state__in=Mandate.LIVE_STATES):
        version = versions[mandate.card_id]
        agreement = network.get(mandate.reference)
        if (
            mandate.synced_credential_version != version
            or agreement is None
            or agreement.credential_version != version
            or agreement.token != mandate.gateway_agreement_token
        ):
            f.unsynced_changes += 1
            f.fail(f"mandate {mandate.reference}: card v{version}, bank v"
                   f"{mandate.synced_credential_version}, network "
                   f"{agreement and agreement.credential_version}")  # fmt: skip
    for card_id, version, _ in changes:
        if versions.get(card_id, 0) < version:
            f.unsynced_changes += 1
            f.fail(f"card {card_id}: change to v{version} not on the card")


def injected_faults() -> Counter:
    """The network's injected faults, replayed from its own books.

    The simulator decides each fault from ``fraction(seed, kind, key, presentation)``
    and counts the presentations that left no ledger row, so its books say
    exactly which collect and bind calls were answered with a 5xx or a timeout.
    """
    seed = settings.GATEWAY_SIMULATOR_SEED
    unavailable = settings.GATEWAY_SIMULATOR_UNAVAILABLE_RATE
    timeout = settings.GATEWAY_SIMULATOR_TIMEOUT_RATE
    faults = Counter()
    rows = set(SimulatedCollection.objects.values_list("idempotency_key", flat=True))
    for request_key, count in SimulatedPresentation.objects.values_list("request_key", "count"):
        kind, _, key = request_key.partition(":")
        if kind == "bind":
            # A bind's roll counts every presentation, failed or not.
            for p in range(1, count + 1):
                if fraction(seed, "unavailable", request_key, p) < unavailable:
                    faults["5xx (binding)"] += 1
            continue
        for p in range(1, count + 1):
            if fraction(seed, "collect", key, p) < unavailable:
                faults["5xx"] += 1
            else:
                faults["timeout before collecting"] += 1
    for key in rows:
        p = 1 + _presented_without_row(key)
        roll = fraction(seed, "collect", key, p)
        after = fraction(seed, "timeout-side", key, p) >= 0.5
        if unavailable <= roll < unavailable + timeout and after:
            faults["timeout after collecting"] += 1
    return faults


_PRESENTED: dict[str, int] = {}


def _presented_without_row(key: str) -> int:
    if not _PRESENTED:
        _PRESENTED.update(
            (rk.partition(":")[2], n)
            for rk, n in SimulatedPresentation.objects.filter(
                request_key__startswith="collect:"
            ).values_list("request_key", "count")
        )
        _PRESENTED.setdefault("", 0)
    return _PRESENTED.get(key, 0)
