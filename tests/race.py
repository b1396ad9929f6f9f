"""Two things happening at once, at a moment the test chooses (after Saleor's
``saleor/tests/race_condition.py``).

``race(first, second, at="module.name")`` runs ``first`` in a thread of its own.
When ``first`` reaches ``at`` (a function it calls, patched for the race), it
starts ``second`` in another thread and lets it run while ``first`` holds
whatever it holds at that point (an open transaction, a row lock), for up to
``overlap`` seconds or until ``second`` is done; then ``first`` carries on.
So ``second`` meets ``first`` half-way through, every time, instead of
whenever two threads happen to interleave.

Each thread has its own database connection (Django opens one per thread), so
on PostgreSQL the two really are concurrent transactions: use it in a test
marked ``postgres`` with ``django_db(transaction=True)``, as the rows must be
committed for the other connection to see them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from unittest import mock

from django.db import connection

# How long the first keeps its place while the second runs or waits for a lock.
DEFAULT_OVERLAP_SECONDS = 1.0
# Neither side of a race in these tests takes anywhere near this long.
THREAD_TIMEOUT_SECONDS = 60


@dataclass
class Outcome:
    """What one side of a race returned, or the exception it raised."""

    value: Any = None
    error: BaseException | None = None

    @property
    def won(self) -> bool:
        return self.error is None


def _run(target: Callable[[], Any], outcome: Outcome) -> None:
    try:
        outcome.value = target()
    except BaseException as exc:  # reported to the test, not swallowed
        outcome.error = exc
    finally:
        connection.close()


def race(
    first: Callable[[], Any],
    second: Callable[[], Any],
    *,
    at: str,
    overlap: float = DEFAULT_OVERLAP_SECONDS,
) -> tuple[Outcome, Outcome]:
    """Run ``second`` while ``first`` is inside its call of ``at``; both outcomes."""
    first_outcome, second_outcome = Outcome(), Outcome()
    second_thread = threading.Thread(target=_run, args=(second, second_outcome))
    met = threading.Event()
    owner: list[threading.Thread] = []

    # The real function is kept aside and called once the second side had its turn.
    real = _resolve(at)

    def meeting_point(*args, **kwargs):
        if threading.current_thread() is owner[0] and not met.is_set():
            met.set()
            second_thread.start()
            second_thread.join(overlap)
        return real(*args, **kwargs)

    with mock.patch(at, side_effect=meeting_point):
        first_thread = threading.Thread(target=_run, args=(first, first_outcome))
        owner.append(first_thread)
        first_thread.start()
        first_thread.join(THREAD_TIMEOUT_SECONDS)
        if met.is_set():
            second_thread.join(THREAD_TIMEOUT_SECONDS)
    if not met.is_set():
        raise AssertionError(
            f"the first side never reached {at}: the race did not happen "
            f"(the first side ended with {first_outcome.error or first_outcome.value!r})"
        )
    if first_thread.is_alive() or second_thread.is_alive():
        raise AssertionError("a side of the race is still running: a deadlock?")
    return first_outcome, second_outcome


def _resolve(dotted: str):
    module_name, _, name = dotted.rpartition(".")
    module = __import__(module_name, fromlist=[name])
    return getattr(module, name)
