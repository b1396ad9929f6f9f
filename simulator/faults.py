"""Faults the simulated network injects: by seeded rate, or scripted for one mandate.

Each injected fault is decided from ``hash(seed, request key, presentation
number)`` rather than a shared random generator: the same run gives the same
answers whatever the process or order, and a retried request rolls afresh
instead of failing forever. Tests and the demo can also script an exact answer
for one mandate (``script_fault``).
"""

import hashlib
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F

from simulator.models import SimulatedFault

# Scripted faults that are a business answer the network records in its ledger.
RECORDED_FAULTS = frozenset(
    {
        SimulatedFault.Outcome.INSUFFICIENT_FUNDS,
        SimulatedFault.Outcome.ACCOUNT_CLOSED,
        SimulatedFault.Outcome.AUTHORISATION_WITHDRAWN,
        SimulatedFault.Outcome.LIMIT_EXCEEDED,
    }
)
BIND_FAULTS = frozenset({SimulatedFault.Outcome.BIND_UNAVAILABLE})
COLLECT_FAULTS = frozenset(SimulatedFault.Outcome) - BIND_FAULTS


@dataclass(frozen=True)
class FaultRates:
    insufficient_funds: float = 0.0
    timeout: float = 0.0
    unavailable: float = 0.0


def fraction(*parts: object) -> float:
    """A number in [0, 1) fixed by its inputs: the same on every process and run."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def take_scripted_fault(mandate_reference: str, *, kinds: frozenset[str]) -> str | None:
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


def script_fault(*, mandate_reference: str, outcome: str, times: int | None = 1) -> SimulatedFault:
    """Make the next ``times`` calls for this mandate answer ``outcome`` (None: every call)."""
    return SimulatedFault.objects.create(
        mandate_reference=mandate_reference, outcome=outcome, remaining=times
    )
