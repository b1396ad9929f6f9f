"""Debit runs: what is selected, what is skipped and why, pauses, one scheduled run a day,
the run_debits command."""

import datetime as dt
import subprocess
import sys
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from accounts.models import AuditEvent
from accounts.roles import Role
from debits.models import CollectionPause, DebitAttempt, DebitRun, Instalment, Mandate
from debits.services import (
    CollectionControlError,
    DebitRunError,
    pause_collection,
    resume_collection,
    retry_debit_attempts,
    run_debit_job,
)
from simulator.models import SimulatedCollection
from tests.conftest import PROJECT_DIR
from tests.debit_helpers import bank_day, due_instalment, eager_celery
from tests.factories import InstalmentFactory, StaffUserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery", "collect_path")]

__all__ = ["eager_celery"]

TODAY = dt.date.today


def _run(django_capture_on_commit_callbacks, **kwargs) -> DebitRun:
    kwargs.setdefault("on_date", timezone.localdate())
    kwargs.setdefault("kind", DebitRun.Kind.MANUAL)
    with django_capture_on_commit_callbacks(execute=True):
        run = run_debit_job(**kwargs)
    run.refresh_from_db()
    return run


def test_a_run_collects_what_is_due_and_leaves_what_is_not(django_capture_on_commit_callbacks):
    today = timezone.localdate()
    due, _ = due_instalment()
    overdue, _ = due_instalment(due_date=today - dt.timedelta(days=5))
    future, _ = due_instalment(due_date=today + dt.timedelta(days=1))

    run = _run(django_capture_on_commit_callbacks)

    assert run.state == DebitRun.State.COMPLETED
    assert (run.selected_count, run.succeeded_count, run.skipped_count) == (2, 2, 0)
    assert run.chunks_done == run.chunks_total == 1
    for instalment in (due, overdue, future):
        instalment.refresh_from_db()
    assert due.state == Instalment.State.PAID
    assert overdue.state == Instalment.State.SETTLED_LATE
    assert future.state == Instalment.State.DUE
    assert AuditEvent.objects.filter(action="debit_run.started", object_id=str(run.pk)).exists()


def test_the_scheduled_run_of_a_day_happens_once(django_capture_on_commit_callbacks):
    due_instalment()
    first = _run(django_capture_on_commit_callbacks, kind=DebitRun.Kind.SCHEDULED)
    again = _run(django_capture_on_commit_callbacks, kind=DebitRun.Kind.SCHEDULED)

    assert again.pk == first.pk
    assert DebitRun.objects.filter(kind=DebitRun.Kind.SCHEDULED).count() == 1
    assert DebitAttempt.objects.count() == 1
    assert SimulatedCollection.objects.count() == 1


def test_a_dry_run_records_its_selection_and_collects_nothing(django_capture_on_commit_callbacks):
    due_instalment()
    InstalmentFactory(due_date=timezone.localdate())  # no mandate at all

    run = _run(django_capture_on_commit_callbacks, kind=DebitRun.Kind.SCHEDULED, dry_run=True)

    assert (run.selected_count, run.skipped_count, run.state) == (1, 1, "completed")
    assert not DebitAttempt.objects.exists()
    real = _run(django_capture_on_commit_callbacks, kind=DebitRun.Kind.SCHEDULED)
    assert real.pk != run.pk and real.succeeded_count == 1


def _later(days):
    return lambda: timezone.localdate() + dt.timedelta(days=days)


SKIP_CASES = {
    "no_mandate": lambda i, m: m.delete(),
    "mandate_pending": lambda i, m: Mandate.objects.filter(pk=m.pk).update(state="pending"),
    "mandate_suspended": lambda i, m: Mandate.objects.filter(pk=m.pk).update(state="suspended"),
    "mandate_cancelled": lambda i, m: Mandate.objects.filter(pk=m.pk).update(state="cancelled"),
    "mandate_expired": lambda i, m: Mandate.objects.filter(pk=m.pk).update(
        valid_from=timezone.localdate() - dt.timedelta(days=400),
        valid_until=timezone.localdate() - dt.timedelta(days=1),
    ),
    "mandate_not_yet_valid": lambda i, m: Mandate.objects.filter(pk=m.pk).update(
        valid_from=timezone.localdate() + dt.timedelta(days=1),
        valid_until=timezone.localdate() + dt.timedelta(days=400),
    ),
    "over_per_debit_cap": lambda i, m: Mandate.objects.filter(pk=m.pk).update(
        per_debit_cap=Decimal("100.00")
    ),
    "authorisation_terms_mismatch": lambda i, m: Mandate.objects.filter(pk=m.pk).update(
        payee="Someone Else Ltd."
    ),
}


@pytest.mark.parametrize("reason", sorted(SKIP_CASES))
def test_an_instalment_that_may_not_be_collected_is_skipped_with_the_reason(
    reason, django_capture_on_commit_callbacks
):
    instalment, mandate = due_instalment()
    if reason == "no_mandate":
        Mandate.objects.filter(pk=mandate.pk).delete()
    else:
        SKIP_CASES[reason](instalment, mandate)

    run = _run(django_capture_on_commit_callbacks)

    skip = run.skips.get()
    assert (skip.instalment_id, skip.reason) == (instalment.pk, reason)
    assert run.skipped_count == 1 and run.selected_count == 0
    assert not DebitAttempt.objects.exists()


@pytest.mark.parametrize("term", ["payee", "purpose", "account", "cap"])
def test_a_debit_outside_the_authorisation_terms_is_refused_naming_the_term(
    term, django_capture_on_commit_callbacks
):
    instalment, mandate = due_instalment()
    change = {
        "payee": {"payee": "Other Payee"},
        "purpose": {"purpose": "Something unrelated"},
        "account": {"settlement_account_fingerprint": ""},
        "cap": {"per_debit_cap": Decimal("1.00")},
    }[term]
    Mandate.objects.filter(pk=mandate.pk).update(**change)

    skip = _run(django_capture_on_commit_callbacks).skips.get()

    assert skip.reason in {"authorisation_terms_mismatch", "over_per_debit_cap"}
    if skip.reason == "authorisation_terms_mismatch":
        assert term in skip.detail


def _operations():
    return StaffUserFactory(role=Role.OPERATIONS.value)


@pytest.mark.parametrize("scope", ["book", "card", "mandate"])
def test_a_paused_scope_is_skipped_with_the_pause_reason_until_resumed(
    scope, django_capture_on_commit_callbacks
):
    instalment, mandate = due_instalment()
    actor = _operations()
    target = {"card": {"card": mandate.card}, "mandate": {"mandate": mandate}, "book": {}}[scope]
    confirmed = {"whole_book_confirmed": True} if scope == "book" else {}
    pause_collection(
        scope=scope, reason="Fraud review of the account", actor=actor, **target, **confirmed
    )

    skip = _run(django_capture_on_commit_callbacks).skips.get()
    assert skip.reason == f"collection_paused_{scope}"
    assert skip.detail == "Fraud review of the account"

    resume_collection(scope=scope, reason="Review closed", actor=actor, **target)
    _run(django_capture_on_commit_callbacks)
    instalment.refresh_from_db()
    assert instalment.state == Instalment.State.PAID
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"collection.paused", "collection.resumed"} <= actions


def test_a_run_dated_after_today_is_refused_and_presents_nothing_early(
    django_capture_on_commit_callbacks,
):
    today = timezone.localdate()
    tomorrow = today + dt.timedelta(days=1)
    not_yet_due, _ = due_instalment(due_date=tomorrow)

    for kind in DebitRun.Kind.values:
        with pytest.raises(DebitRunError, match="may not be dated after today"):
            run_debit_job(on_date=tomorrow, kind=kind)
    assert not DebitRun.objects.exists()
    assert not DebitAttempt.objects.exists()

    # Today's run leaves it alone; the run of its due date collects it.
    assert _run(django_capture_on_commit_callbacks).selected_count == 0
    with bank_day(tomorrow):
        on_its_day = _run(django_capture_on_commit_callbacks, on_date=tomorrow)
    not_yet_due.refresh_from_db()
    assert on_its_day.succeeded_count == 1
    assert not_yet_due.state == Instalment.State.PAID
    assert DebitAttempt.objects.get().run.run_date == not_yet_due.due_date


def test_the_manual_run_form_refuses_a_date_after_today_with_the_reason():
    from django.test import Client
    from django.urls import reverse

    from tests.conftest import sign_in_verified

    client = sign_in_verified(Client(), _operations())
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    response = client.post(reverse("collection:start_run"), {"run_date": tomorrow.isoformat()})
    assert response.status_code == 200
    assert "may not be dated after today" in response.content.decode()
    assert not DebitRun.objects.exists()


def test_pausing_twice_or_resuming_what_is_not_paused_is_refused():
    _, mandate = due_instalment()
    actor = _operations()
    pause_collection(scope="mandate", mandate=mandate, reason="Dispute", actor=actor)
    with pytest.raises(CollectionControlError):
        pause_collection(scope="mandate", mandate=mandate, reason="Again", actor=actor)
    with pytest.raises(CollectionControlError):
        resume_collection(scope="card", card=mandate.card, reason="x", actor=actor)
    with pytest.raises(CollectionControlError):
        pause_collection(scope="card", reason="no card named", actor=actor)
    assert CollectionPause.objects.filter(resumed_at__isnull=True).count() == 1


def test_an_agent_may_not_pause_collection():
    _, mandate = due_instalment()
    agent = StaffUserFactory(role=Role.AGENT.value)
    with pytest.raises(CollectionControlError):
        pause_collection(scope="mandate", mandate=mandate, reason="x", actor=agent)


def test_retry_selected_collects_failed_attempts_now_ignoring_the_schedule(
    django_capture_on_commit_callbacks,
):
    from simulator.faults import script_fault

    instalment, mandate = due_instalment()
    script_fault(mandate_reference=mandate.reference, outcome="insufficient_funds")
    _run(django_capture_on_commit_callbacks, kind=DebitRun.Kind.SCHEDULED)
    failed = DebitAttempt.objects.filter(state="failed")
    assert failed.count() == 1

    with pytest.raises(DebitRunError):
        retry_debit_attempts(attempts=failed, actor=StaffUserFactory(role=Role.AGENT.value))
    with django_capture_on_commit_callbacks(execute=True):
        run = retry_debit_attempts(attempts=failed, actor=_operations())

    instalment.refresh_from_db()
    assert instalment.state == Instalment.State.PAID
    assert run.kind == DebitRun.Kind.MANUAL and run.requested_by is not None


@pytest.mark.django_db(transaction=True)
def test_run_debits_command_waits_with_progress_and_prints_a_summary(capsys):
    due_instalment()
    call_command(
        "run_debits", "--date", timezone.localdate().isoformat(), "--wait", "--timeout", "30"
    )
    captured = capsys.readouterr()
    assert "chunk" in captured.err  # the progress bar
    out = captured.out
    assert "1 selected" in out
    assert "1 succeeded, 0 failed, 0 unknown, 0 skipped" in out


def test_run_debits_dry_run_collects_nothing(capsys):
    due_instalment()
    call_command("run_debits", "--dry-run")
    assert "dry run" in capsys.readouterr().out
    assert not DebitAttempt.objects.exists()


@pytest.mark.parametrize(
    "args", [["--date", "2026-02-30"], ["--date", "yesterday"], ["--date", "2999-01-01"]]
)
def test_run_debits_refuses_bad_arguments(args):
    with pytest.raises(CommandError):
        call_command("run_debits", *args)


def test_run_debits_exits_non_zero_with_one_line_on_a_bad_date():
    result = subprocess.run(
        [sys.executable, "manage.py", "run_debits", "--date", "31/12/2026"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "backoffice.settings"},
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "CommandError: --date must be YYYY-MM-DD, not '31/12/2026'"
    ]
    assert connection.vendor  # the test database was not touched by the subprocess


def test_run_debits_refuses_a_date_after_today_with_one_line_and_a_non_zero_exit():
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    result = subprocess.run(
        [sys.executable, "manage.py", "run_debits", "--date", tomorrow],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "backoffice.settings"},
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    # Commands speak the bank's default language, Simplified Chinese.
    assert lines[0].startswith("CommandError: 扣款批次的日期不能晚于今天")
    assert tomorrow in lines[0]
