"""Debit runs that stopped making progress, and attempts without an outcome: found,
repaired, alerted once, resolved; nothing collected twice."""

import datetime as dt

import pytest
from django.conf import settings as django_settings
from django.urls import reverse
from django.utils import timezone

from accounts.audit_actions import AuditAction
from accounts.models import AuditEvent
from debits.models import Alert, DebitAttempt, DebitRun, DebitRunChunk, Instalment
from debits.services import (
    StuckRunError,
    reconcile_stuck_runs,
    reconcile_unresolved_attempts,
    rerun_stuck_debit_run,
    run_debit_job,
    settle_unresolved_attempts,
)
from tests.debit_helpers import due_instalment, eager_celery  # noqa: F401 # fixture
from tests.factories import StaffUserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("collect_path")]


def after_the_lease() -> dt.datetime:
    return timezone.now() + dt.timedelta(seconds=django_settings.DEBIT_CHUNK_LEASE_SECONDS + 1)


def run_whose_messages_were_lost(count: int, django_capture_on_commit_callbacks) -> DebitRun:
    """A run over ``count`` due instalments whose chunk messages never reached a worker."""
    for _ in range(count):
        due_instalment()
    with django_capture_on_commit_callbacks(execute=False):
        run = run_debit_job(on_date=timezone.localdate(), kind=DebitRun.Kind.SCHEDULED)
    return run


def test_a_run_records_which_instalments_each_chunk_collects_before_sending_anything(
    django_capture_on_commit_callbacks, monkeypatch
):
    from debits.services import runs

    monkeypatch.setattr(runs, "CHUNK_SIZE", 2)
    run = run_whose_messages_were_lost(5, django_capture_on_commit_callbacks)
    chunks = list(DebitRunChunk.objects.filter(run=run).order_by("number"))
    assert run.chunks_total == len(chunks) == 3
    recorded = sorted(i for chunk in chunks for i in chunk.instalment_ids)
    assert recorded == sorted(Instalment.objects.values_list("pk", flat=True))
    assert all(chunk.finished_at is None for chunk in chunks)


@pytest.mark.usefixtures("eager_celery")
def test_the_sweeper_sends_lost_chunks_again_and_the_run_completes(
    django_capture_on_commit_callbacks,
):
    run = run_whose_messages_were_lost(3, django_capture_on_commit_callbacks)
    assert not DebitAttempt.objects.exists()
    assert reconcile_stuck_runs().found == 0, "within its lease a chunk is left alone"
    with django_capture_on_commit_callbacks(execute=True):
        report = reconcile_stuck_runs(now=after_the_lease())
    run.refresh_from_db()
    assert report.repaired == 1
    assert run.state == DebitRun.State.COMPLETED and run.chunks_done == run.chunks_total
    # Every due instalment attempted exactly once, none left neither attempted nor skipped.
    assert DebitAttempt.objects.filter(run=run, state="succeeded").count() == 3
    assert reconcile_stuck_runs(now=after_the_lease()).found == 0


def test_a_chunk_delivered_twice_counts_once_and_collects_once(
    django_capture_on_commit_callbacks,
):
    from debits.services import collect_debit_chunk

    run = run_whose_messages_were_lost(2, django_capture_on_commit_callbacks)
    chunk = DebitRunChunk.objects.get(run=run)
    for _ in range(2):
        collect_debit_chunk(run_id=run.pk, instalment_ids=chunk.instalment_ids, chunk_id=chunk.pk)
    run.refresh_from_db()
    assert run.chunks_done == 1 and run.state == DebitRun.State.COMPLETED
    assert DebitAttempt.objects.count() == 2


@pytest.mark.usefixtures("eager_celery")
def test_a_run_that_keeps_not_finishing_raises_one_alert_resolved_when_it_completes(
    django_capture_on_commit_callbacks,
    settings,
):
    run = run_whose_messages_were_lost(1, django_capture_on_commit_callbacks)
    settings.DEBIT_RUN_STUCK_ALERT_DISPATCHES = 1
    for _ in range(2):
        # The messages are lost again and again (a broker that keeps dropping them).
        with django_capture_on_commit_callbacks(execute=False):
            reconcile_stuck_runs(now=after_the_lease())
    alert = Alert.objects.get(kind=Alert.Kind.DEBIT_RUN_STUCK, resolved_at__isnull=True)
    assert alert.occurrences == 2, "one alert, found again by the second pass"
    assert alert.severity == Alert.Severity.CRITICAL and f"#{run.pk}" in alert.message
    with django_capture_on_commit_callbacks(execute=True):
        reconcile_stuck_runs(now=after_the_lease())
    run.refresh_from_db()
    assert run.state == DebitRun.State.COMPLETED
    reconcile_stuck_runs()
    alert.refresh_from_db()
    assert alert.resolved_at is not None


@pytest.mark.usefixtures("eager_celery")
def test_operations_re_run_a_run_that_stopped_during_selection_without_waiting(
    django_capture_on_commit_callbacks,
):
    due_instalment()
    stopped = DebitRun.objects.create(
        run_date=timezone.localdate(),
        kind=DebitRun.Kind.SCHEDULED,
        started_at=timezone.now() - dt.timedelta(minutes=1),
    )
    reconcile_stuck_runs()
    stopped.refresh_from_db()
    assert stopped.state == DebitRun.State.RUNNING, "the sweeper waits out the selection"
    operator = StaffUserFactory(role="operations")
    with django_capture_on_commit_callbacks(execute=True):
        working = rerun_stuck_debit_run(run=stopped, actor=operator, reason="Worker died")
    stopped.refresh_from_db()
    assert stopped.state == DebitRun.State.FAILED
    assert working.kind == DebitRun.Kind.RETRY and working.pk != stopped.pk
    working.refresh_from_db()
    assert working.state == DebitRun.State.COMPLETED
    assert DebitAttempt.objects.filter(run=working, state="succeeded").count() == 1
    assert AuditEvent.objects.get(action=AuditAction.DEBIT_RUN_RERUN).actor == operator


def test_only_operations_re_run_a_run_and_only_a_running_one(django_capture_on_commit_callbacks):
    run = run_whose_messages_were_lost(1, django_capture_on_commit_callbacks)
    with pytest.raises(StuckRunError):
        rerun_stuck_debit_run(run=run, actor=StaffUserFactory(role="supervisor"), reason="x")
    DebitRun.objects.filter(pk=run.pk).update(state=DebitRun.State.COMPLETED)
    with pytest.raises(StuckRunError):
        rerun_stuck_debit_run(run=run, actor=StaffUserFactory(role="operations"), reason="x")


@pytest.mark.usefixtures("eager_celery")
def test_operations_re_run_a_stuck_run_from_the_dashboard(
    staff_client,
    django_capture_on_commit_callbacks,
):
    run = run_whose_messages_were_lost(2, django_capture_on_commit_callbacks)
    client = staff_client(role="operations")
    url = reverse("operations:emergency_action", args=["rerun_run"])
    assert str(run) in client.get(url).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url, {"run": run.pk, "reason": "Redis lost its data", "confirm": "on"}
        )
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.state == DebitRun.State.COMPLETED
    assert DebitRunChunk.objects.get(run=run).dispatches == 2


# --- Attempts without an outcome -----------------------------------------------------


def unknown_attempt(*, ago: dt.timedelta) -> DebitAttempt:
    instalment, mandate = due_instalment()
    return DebitAttempt.objects.create(
        instalment=instalment,
        mandate=mandate,
        attempt_number=1,
        idempotency_key=f"inst-{instalment.pk}-1",
        amount=instalment.amount_due,
        presented_credential_version=1,
        state=DebitAttempt.State.UNKNOWN,
        submitted_at=timezone.now() - ago,
        created_at=timezone.now() - ago,
    )


class AskingGateway:
    """The simulator, but while it answers a status query a second janitor runs."""

    asked: list[str] = []

    def __init__(self):
        from simulator.gateway import SimulatorGateway

        self.inner = SimulatorGateway()

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def get_status(self, *, idempotency_key):
        AskingGateway.asked.append(idempotency_key)
        if len(AskingGateway.asked) == 1:
            settle_unresolved_attempts()  # the second janitor, at the same moment
        return self.inner.get_status(idempotency_key=idempotency_key)

    def get_status_batch(self, idempotency_keys):
        AskingGateway.asked.extend(idempotency_keys)
        if len(AskingGateway.asked) == len(idempotency_keys):
            settle_unresolved_attempts()  # the second janitor, at the same moment
        return self.inner.get_status_batch(idempotency_keys)


def test_two_janitors_never_ask_about_the_same_key(settings):
    settings.PAYMENT_GATEWAY = "tests.debits.test_stuck_runs.AskingGateway"
    AskingGateway.asked = []
    attempt = unknown_attempt(ago=dt.timedelta(hours=2))
    settle_unresolved_attempts()
    assert AskingGateway.asked == [attempt.idempotency_key]
    attempt.refresh_from_db()
    assert attempt.state == DebitAttempt.State.FAILED and attempt.failure_code == "not_received"


def test_attempts_that_stay_unknown_raise_one_alert_until_they_settle(settings):
    # The network does not know the key yet, and will not call it "never seen" for a day.
    settings.DEBIT_UNKNOWN_NOT_RECEIVED_AFTER_SECONDS = 24 * 60 * 60
    attempt = unknown_attempt(ago=dt.timedelta(hours=2))
    reconcile_unresolved_attempts()
    report = reconcile_unresolved_attempts()
    alert = Alert.objects.get(kind=Alert.Kind.UNKNOWN_ATTEMPTS, resolved_at__isnull=True)
    assert report.found == 1 and alert.occurrences == 2
    settings.DEBIT_UNKNOWN_NOT_RECEIVED_AFTER_SECONDS = 60
    report = reconcile_unresolved_attempts()
    attempt.refresh_from_db()
    alert.refresh_from_db()
    assert report.repaired == 1 and attempt.state == DebitAttempt.State.FAILED
    assert alert.resolved_at is not None
