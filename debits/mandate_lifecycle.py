"""Which states a mandate may move between: the one table every transition consults.

A mandate starts pending (signed, its agreement not yet confirmed), becomes
active once the payment network holds the agreement, may be suspended and
reinstated, and ends cancelled (the customer or the bank withdrew it) or
failed (a final debit answer: the authorisation is gone). Cancelled and failed
are final: collecting again needs a new mandate.
"""

from debits.models import Mandate

_S = Mandate.State

TRANSITIONS: dict[str, frozenset[str]] = {
    _S.PENDING: frozenset({_S.ACTIVE, _S.CANCELLED, _S.FAILED}),
    _S.ACTIVE: frozenset({_S.SUSPENDED, _S.CANCELLED, _S.FAILED}),
    _S.SUSPENDED: frozenset({_S.ACTIVE, _S.CANCELLED, _S.FAILED}),
    _S.CANCELLED: frozenset(),
    _S.FAILED: frozenset(),
}


class MandateTransitionError(Exception):
    """A mandate cannot move to the state asked for (shown to staff as a message)."""


def states_that_may_become(target: str) -> tuple[str, ...]:
    """The states a mandate may be in for a move to ``target``: the guard of its UPDATE."""
    return tuple(state for state, targets in TRANSITIONS.items() if target in targets)


def check_transition(*, current: str, target: str, reference: str = "") -> None:
    if target not in TRANSITIONS.get(current, ()):
        name = f"Mandate {reference}" if reference else "A mandate"
        raise MandateTransitionError(
            f"{name} that is {_S(current).label.lower()} cannot become {_S(target).label.lower()}"
        )
