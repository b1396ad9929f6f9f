"""How many inputs each hostile-input target was tried with, for the run's summary.

``tests/conftest.py`` prints the table at the end of the run (a terminal
summary), so the counts are in every CI log without ``-s``.
"""

from collections import Counter

CASES: Counter[str] = Counter()


def tried(target: str) -> None:
    CASES[target] += 1
