"""A run whose selection stopped part-way (its worker SIGKILLed between two pages) is
finished by the run sweeper: the selection resumes after the last instalment it
chunked, and every due instalment is selected, and collected, exactly once, however
many sweepers (or the original selection, back from a pause) take part."""

import datetime as dt
from collections import Counter

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from accounts.audit_actions import AuditAction
from accounts.models import AuditEvent
from debits.models import DebitAttempt, DebitRun, DebitRunChunk, Instalment, SkippedInstalment
from debits.services import reconcile_stuck_runs, run_debit_job
from debits.services import runs as runs_module
from tests.debit_helpers import due_instalment, eager_celery  # noqa: F401 # fixture
from tests.factories import InstalmentFactory
from tests.race import race

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("collect_path", "eager_celery"),
]


class WorkerKilled(BaseException):
    """Stands for the SIGKILL: nothing after it runs, no handler sees it."""


def after_the_selection_lease() -> dt.datetime:
    return timezone.now() + dt.timedelta(
        seconds=django_settings.DEBIT_RUN_SELECTION_STALE_SECONDS + 1
    )


@pytest.fixture
def small_pages(monkeypatch):
    # Pages of 3, chunks of 2: the cut leaves an eligible instalment counted but not
    # yet chunked, which the resumed selection has to pick up again.
    monkeypatch.setattr(runs_module, "SELECTION_BATCH", 3)
    monkeypatch.setattr(runs_module, "CHUNK_SIZE", 2)


def book() -> tuple[list[int], int]:
    """Eight instalments due under a mandate, one without any (skipped): their ids."""
    due = [due_instalment()[0].pk for _ in range(4)]
    unmandated = InstalmentFactory(due_date=timezone.localdate()).pk
    due += [due_instalment()[0].pk for _ in range(4)]
    return due, unmandated


def selection_killed_after_pages(pages: int, monkeypatch) -> DebitRun:
    real = runs_module.load_collection_context
    calls = []

    def dies_after(rows, **kwargs):
        calls.append(1)
        if len(calls) > pages:
            raise WorkerKilled
        return real(rows, **kwargs)

    monkeypatch.setattr(runs_module, "load_collection_context", dies_after)
    with pytest.raises(WorkerKilled):
        run_debit_job(on_date=timezone.localdate(), kind=DebitRun.Kind.SCHEDULED)
    monkeypatch.setattr(runs_module, "load_collection_context", real)
    return DebitRun.objects.get(kind=DebitRun.Kind.SCHEDULED)


def assert_each_selected_once(run: DebitRun, due: list[int], unmandated: int) -> None:
    chunked = Counter(
        i for ids in DebitRunChunk.objects.filter(run=run).values_list("instalment_ids", flat=True)
        for i in ids
    )  # fmt: skip
    assert sorted(chunked) == sorted(due) and set(chunked.values()) == {1}
    attempts = Counter(DebitAttempt.objects.filter(run=run).values_list("instalment_id", flat=True))
    assert sorted(attempts) == sorted(due) and set(attempts.values()) == {1}
    assert list(
        SkippedInstalment.objects.filter(run=run).values_list("instalment_id", flat=True)
    ) == [unmandated]
    numbers = list(
        DebitRunChunk.objects.filter(run=run).order_by("number").values_list("number", flat=True)
    )
    assert numbers == list(range(1, len(numbers) + 1))


@pytest.mark.usefixtures("small_pages")
def test_the_sweeper_resumes_a_selection_cut_off_after_some_pages_and_the_run_completes(
    monkeypatch,
):
    due, unmandated = book()
    run = selection_killed_after_pages(2, monkeypatch)
    assert run.state == DebitRun.State.RUNNING and run.selection_finished_at is None
    cut_chunks = DebitRunChunk.objects.filter(run=run).count()
    assert 0 < cut_chunks < 4

    assert reconcile_stuck_runs().repaired == 0, "within its lease the selection is left alone"
    report = reconcile_stuck_runs(now=after_the_selection_lease())

    run.refresh_from_db()
    assert report.repaired == 1 and "resumed after instalment" in report.notes[0]
    assert run.state == DebitRun.State.COMPLETED and run.selection_finished_at is not None
    assert_each_selected_once(run, due, unmandated)
    assert run.selected_count == run.succeeded_count == 8 and run.skipped_count == 1
    assert run.chunks_done == run.chunks_total == DebitRunChunk.objects.filter(run=run).count()
    event = AuditEvent.objects.get(action=AuditAction.DEBIT_RUN_RERUN)
    assert event.actor is None and event.object_id == str(run.pk)
    assert reconcile_stuck_runs(now=after_the_selection_lease()).repaired == 0


@pytest.mark.usefixtures("small_pages")
def test_two_sweepers_at_once_resume_a_stopped_selection_once(monkeypatch):
    due, unmandated = book()
    run = selection_killed_after_pages(1, monkeypatch)
    later = after_the_selection_lease()

    # The second sweeper arrives while the first holds the run's row lock, taking over.
    first, second = race(
        lambda: reconcile_stuck_runs(now=later),
        lambda: reconcile_stuck_runs(now=later),
        at="debits.services.runs.record_audit_event",
    )
    assert first.won and second.won, (first.error, second.error)
    assert first.value.repaired + second.value.repaired == 1
    run.refresh_from_db()
    assert run.state == DebitRun.State.COMPLETED
    assert_each_selected_once(run, due, unmandated)
    assert AuditEvent.objects.filter(action=AuditAction.DEBIT_RUN_RERUN).count() == 1


@pytest.mark.usefixtures("small_pages")
def test_a_selection_back_from_a_pause_after_the_sweeper_took_over_records_nothing():
    due, unmandated = book()
    later = after_the_selection_lease()

    # The original selection has read its first page when the sweeper takes over and
    # finishes it; the original then carries on and must stop at its next page.
    original, sweeper = race(
        lambda: run_debit_job(on_date=timezone.localdate(), kind=DebitRun.Kind.SCHEDULED),
        lambda: reconcile_stuck_runs(now=later),
        at="debits.services.runs.load_collection_context",
    )
    assert original.won and sweeper.won, (original.error, sweeper.error)
    assert sweeper.value.repaired == 1
    run = DebitRun.objects.get(kind=DebitRun.Kind.SCHEDULED)
    assert run.state == DebitRun.State.COMPLETED
    assert_each_selected_once(run, due, unmandated)
    assert Instalment.objects.filter(pk__in=due, state=Instalment.State.PAID).count() == 8
