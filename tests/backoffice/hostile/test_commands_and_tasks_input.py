"""Hostile arguments to the management commands and the Celery tasks.

A command answers with a CommandError (from the shell: a non-zero exit and one
line, no traceback); a task handed an id that is not one, or of the wrong type,
fails with a plain error (or finds nothing to do); neither writes half a change.
"""

import datetime as dt
import inspect
import subprocess
import sys

import pytest
from celery import current_app
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.core.management import CommandError, call_command
from hypothesis import given
from hypothesis import strategies as st

from debits.services.runs import MAX_DAYS_AHEAD
from tests.backoffice.hostile.conftest import Unchanged, generated
from tests.backoffice.hostile.inputs import HAND_PICKED, hostile_argument, hostile_text
from tests.conftest import PROJECT_DIR

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

# The answers a task may give an argument that is not what it takes.
CLEAR_TASK_ERRORS = (ValueError, TypeError, ObjectDoesNotExist, ValidationError)


def _a_run_date(value: str) -> bool:
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        return False
    return day <= dt.date.today() + dt.timedelta(days=MAX_DAYS_AHEAD)


COMMANDS = {
    # name -> (arguments for a hostile value, does that value make it act for real?)
    # An empty --date means today: a real (dry) run.
    "run_debits --date": (
        lambda v: ["run_debits", "--date", v, "--dry-run"],
        lambda v: v == "" or _a_run_date(v),
    ),
    "run_debits --kind": (lambda v: ["run_debits", "--kind", v], lambda v: False),
    "run_debits --timeout": (lambda v: ["run_debits", "--timeout", v, "--date", "x"], None),
    # The book fixture holds customers, so seeding is refused whatever the numbers.
    "seed_demo --customers": (lambda v: ["seed_demo", "--customers", v], None),
    "seed_demo --seed": (lambda v: ["seed_demo", "--seed", v], None),
    "create_demo_staff (stray argument)": (lambda v: ["create_demo_staff", v], None),
}


def _try_command(target: str, value: str):
    build, acts = COMMANDS[target]
    real = bool(acts and acts(value))
    with Unchanged(f"command {target}", expect_unchanged=not real):
        try:
            call_command(*build(value), verbosity=0)
        except CommandError as exc:
            assert str(exc).strip(), target
        else:
            assert real or target.startswith("run_debits --kind"), f"{target} accepted {value!r}"


@pytest.mark.parametrize("target", sorted(COMMANDS))
def test_a_command_given_hostile_arguments_stops_with_a_clear_error(target, book):
    for value in HAND_PICKED:
        if "\x00" in value:
            continue  # no shell can pass a NUL byte in an argument
        _try_command(target, value)

    @generated()
    @given(value=hostile_text.filter(lambda v: "\x00" not in v and not v.startswith("-")))
    def attempt(value):
        _try_command(target, value)

    attempt()


@pytest.mark.parametrize(
    "argv",
    [
        ["run_debits", "--date", "2026-02-30"],
        ["seed_demo", "--customers", "0"],
        ["run_debits", "--kind", "'; DROP TABLE debits_debitrun; --"],
    ],
    ids=lambda argv: " ".join(argv[:2]),
)
def test_from_the_shell_a_refused_command_exits_non_zero_with_one_error_line(argv):
    done = subprocess.run(
        [sys.executable, "manage.py", *argv],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    # A CommandError is one line; argparse prints its usage first, then one error line.
    errors = [line for line in done.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1, done.stderr


def _our_tasks() -> list[str]:
    current_app.loader.import_default_modules()
    return sorted(name for name in current_app.tasks if name.startswith("debits."))


def _parameters(task) -> list[str]:
    signature = inspect.signature(task.run)
    return [name for name in signature.parameters if name not in {"self"}]


@pytest.mark.parametrize("name", _our_tasks())
def test_a_task_handed_hostile_arguments_fails_plainly_and_writes_nothing(name, book):
    task = current_app.tasks[name]
    parameters = _parameters(task)
    arity = max(1, len(parameters))

    def try_arguments(args: list):
        with Unchanged(f"task {name.rsplit('.', 1)[-1]}"):
            result = task.apply(args=args)
            if result.failed():
                assert isinstance(result.result, CLEAR_TASK_ERRORS), (
                    f"{name}{tuple(args)!r} failed with {result.result!r}"
                )

    for value in HAND_PICKED[:20]:
        try_arguments([value] * arity)

    @generated(1.5)
    @given(args=st.lists(hostile_argument, min_size=arity, max_size=arity))
    def attempt(args):
        try_arguments(args)

    attempt()
