"""What the property-based tests share: their hypothesis profiles, a savepoint per
example, and the count of generated cases per target printed at the end of the run.

The profile is ``properties-ci`` (sized so the whole set stays well under a minute
on two busy cores) unless ``HYPOTHESIS_PROFILE=properties-thorough`` asks for a long
run. Like the hostile-input profile it is applied test by test (``generated``),
never loaded as the session's default.

    HYPOTHESIS_PROFILE=properties-thorough .venv/bin/pytest tests/debits/test_book_model.py
"""

import os
from collections import Counter
from contextlib import contextmanager

from django.db import transaction
from hypothesis import HealthCheck, settings

_COMMON = {
    "deadline": None,
    # Database examples share the test's transaction; each runs in its own savepoint.
    "suppress_health_check": [
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
    "database": None,
    "derandomize": True,
    "print_blob": True,
}
settings.register_profile("properties-ci", max_examples=100, stateful_step_count=20, **_COMMON)
settings.register_profile(
    "properties-thorough", max_examples=2000, stateful_step_count=60, **_COMMON
)
_REQUESTED = os.environ.get("HYPOTHESIS_PROFILE", "")
PROFILE_NAME = (
    "properties-thorough"
    if _REQUESTED in {"properties-thorough", "thorough"}
    else ("properties-ci")
)
PROFILE = settings.get_profile(PROFILE_NAME)

# Target -> number of generated cases tried; tests/conftest.py prints it.
CASES: Counter[str] = Counter()


def tried(target: str, n: int = 1) -> None:
    CASES[target] += n


def generated(scale: float = 1.0, **overrides) -> settings:
    """The profile's settings for one target, ``scale`` times its number of examples."""
    return settings(PROFILE, max_examples=max(1, round(PROFILE.max_examples * scale)), **overrides)


@contextmanager
def rolled_back():
    """One example's writes, undone when it ends: each example starts from the same book."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)
