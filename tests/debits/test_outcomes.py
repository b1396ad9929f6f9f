"""The outcome table walked row by row, then each kind of answer end to end through
the simulated payment network."""

import datetime as dt

import pytest
from django.test import override_settings
from django.utils import timezone

from accounts.models import Card
from debits.models import Alert, DebitAttempt, DebitRun, Instalment, Mandate, SkippedInstalment
from debits.outcomes import GatewayAnswer
from debits.services import (
    OUTCOMES,
    normalise_failure_code,
    record_debit_outcomes,
    run_debit_job,
    settle_unresolved_attempts,
)
from debits.services.chunks import claim_chunk
from debits.services.eligibility import SAME_DAY_BANK_SIDE_RETRIES
from simulator.faults import script_fault
from simulator.ledger import revoke_agreement
from simulator.models import SimulatedCollection, SimulatedFault
from tests.debit_helpers import bank_day, due_instalment, eager_celery

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery", "collect_path")]

__all__ = ["eager_celery"]

TODAY = "today"
TOMORROW = "tomorrow"
SOON = "today or tomorrow"  # outage backoff: minutes from now

# code: (attempt state, instalment paid, next_retry_on, mandate state after, sync forgotten)
EXPECTED = {
    "succeeded": ("succeeded", True, None, "active", False),
    "insufficient_funds": ("failed", False, TOMORROW, "active", False),
    "limit_exceeded": ("failed", False, TOMORROW, "active", False),
    "timeout": ("unknown", False, None, "active", False),
    "gateway_error": ("unknown", False, None, "active", False),
    "idempotency_conflict": ("unknown", False, None, "active", False),
    "gateway_unavailable": ("failed", False, SOON, "active", False),
    "agreement_stale": ("failed", False, TODAY, "active", True),
    "agreement_revoked": ("failed", False, TODAY, "active", True),
    "not_received": ("failed", False, TODAY, "active", False),
    "account_closed": ("failed", False, None, "failed", False),
    "authorisation_withdrawn": ("failed", False, None, "failed", False),
    "unclassified": ("failed", False, None, "active", False),
}


def test_every_row_of_the_outcome_table_has_a_test_row():
    assert set(EXPECTED) == set(OUTCOMES)


def _submitted(instalment):
    run = DebitRun.objects.create(run_date=timezone.localdate(), kind=DebitRun.Kind.MANUAL)
    claims, skipped = claim_chunk(run=run, instalment_ids=[instalment.pk])
    assert skipped == 0 and len(claims) == 1
    return claims[0]


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_the_outcome_table_row(code):
    instalment, mandate = due_instalment()
    claim = _submitted(instalment)
    raw = code if code != "unclassified" else "E_SOMETHING_NEW"

    record_debit_outcomes(claims=[(claim, GatewayAnswer(raw_code=raw, gateway_reference="REF1"))])

    state, paid, retry, mandate_state, sync_forgotten = EXPECTED[code]
    attempt = DebitAttempt.objects.get(pk=claim.attempt_id)
    instalment.refresh_from_db()
    mandate.refresh_from_db()
    today = timezone.localdate()
    assert attempt.state == state
    assert attempt.failure_code == ("" if code == "succeeded" else code)
    assert attempt.raw_failure_code == ("" if code == "succeeded" else raw)
    assert (instalment.state == Instalment.State.PAID) is paid
    if paid:
        assert instalment.amount_paid == instalment.amount_due
        assert instalment.paid_at is not None
        assert attempt.gateway_reference == "REF1"
    expected_retry = {
        None: {None},
        TODAY: {today},
        TOMORROW: {today + dt.timedelta(days=1)},
        SOON: {today, today + dt.timedelta(days=1)},
    }[retry]
    assert attempt.next_retry_on in expected_retry
    assert mandate.state == mandate_state
    assert (mandate.synced_credential_version == 0) is sync_forgotten
    alert = Alert.objects.filter(kind=Alert.Kind.MANDATE_FAILED, mandate=mandate).exists()
    assert alert is (mandate_state == "failed")


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("NSF", "insufficient_funds"),
        ("Insufficient-Funds", "insufficient_funds"),
        ("5xx", "gateway_unavailable"),
        ("stale_agreement", "agreement_stale"),
        ("authorization_withdrawn", "authorisation_withdrawn"),
        ("never heard of it", "unclassified"),
        ("", "unclassified"),
    ],
)
def test_gateway_codes_are_normalised(raw, normalised):
    assert normalise_failure_code(raw) == normalised


def test_insufficient_funds_is_retried_on_the_schedule_and_at_most_n_times(
    settings, django_capture_on_commit_callbacks
):
    settings.DEBIT_RETRY_SCHEDULE_DAYS = [1, 3]
    settings.DEBIT_MAX_ATTEMPTS = 3
    instalment, mandate = due_instalment()
    script_fault(
        mandate_reference=mandate.reference,
        outcome=SimulatedFault.Outcome.INSUFFICIENT_FUNDS,
        times=None,
    )
    day = timezone.localdate()
    tries = []
    for offset in range(0, 10):
        on = day + dt.timedelta(days=offset)
        with bank_day(on), django_capture_on_commit_callbacks(execute=True):
            run_debit_job(on_date=on, kind=DebitRun.Kind.RETRY)
        tries = list(
            DebitAttempt.objects.filter(instalment=instalment)
            .order_by("attempt_number")
            .values_list("created_at", "next_retry_on")
        )
    numbers = list(
        DebitAttempt.objects.filter(instalment=instalment).values_list("state", flat=True)
    )
    assert numbers == ["failed"] * 3
    retries = [r for _, r in tries]
    assert retries == [day + dt.timedelta(days=1), day + dt.timedelta(days=4), None]
    last_skip = SkippedInstalment.objects.filter(instalment=instalment).latest("id")
    assert last_skip.reason == "no_automatic_retry"


def test_a_retry_before_its_day_is_skipped_with_the_reason(django_capture_on_commit_callbacks):
    instalment, mandate = due_instalment()
    script_fault(
        mandate_reference=mandate.reference, outcome=SimulatedFault.Outcome.INSUFFICIENT_FUNDS
    )
    with django_capture_on_commit_callbacks(execute=True):
        run_debit_job(on_date=timezone.localdate(), kind=DebitRun.Kind.SCHEDULED)
    with django_capture_on_commit_callbacks(execute=True):
        retry = run_debit_job(on_date=timezone.localdate(), kind=DebitRun.Kind.RETRY)
    assert retry.skips.get().reason == "retry_not_due"
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    with bank_day(tomorrow), django_capture_on_commit_callbacks(execute=True):
        run_debit_job(on_date=tomorrow, kind=DebitRun.Kind.SCHEDULED)
    instalment.refresh_from_db()
    # Collected the day after it was due, so it is settled late.
    assert instalment.state == Instalment.State.SETTLED_LATE
    assert instalment.amount_paid == instalment.amount_due


def test_a_success_after_the_due_date_is_settled_late(django_capture_on_commit_callbacks):
    instalment, _ = due_instalment(due_date=timezone.localdate() - dt.timedelta(days=2))
    with django_capture_on_commit_callbacks(execute=True):
        run_debit_job(on_date=timezone.localdate(), kind=DebitRun.Kind.MANUAL)
    instalment.refresh_from_db()
    assert instalment.state == Instalment.State.SETTLED_LATE
    assert instalment.amount_paid == instalment.amount_due


def test_a_timeout_after_collecting_is_settled_by_the_janitor_and_never_collected_again(
    django_capture_on_commit_callbacks,
):
    instalment, mandate = due_instalment()
    script_fault(
        mandate_reference=mandate.reference, outcome=SimulatedFault.Outcome.TIMEOUT_AFTER_COLLECT
    )
    with django_capture_on_commit_callbacks(execute=True):
        run_debit_job(on_date=timezone.localdate(), kind=DebitRun.Kind.SCHEDULED)
    attempt = DebitAttempt.objects.get(instalment=instalment)
    assert attempt.state == DebitAttempt.State.UNKNOWN
    assert attempt.failure_code == "timeout"

    with django_capture_on_commit_callbacks(execute=True):
        retry = run_debit_job(on_date=timezone.localdate(), kind=DebitRun.Kind.RETRY)
    assert retry.skips.get().reason == "attempt_in_flight"

    settle_unresolved_attempts()

    attempt.refresh_from_db()
    instalment.refresh_from_db()
    assert attempt.state == DebitAttempt.State.SUCCEEDED
    assert instalment.state == Instalment.State.PAID
    assert SimulatedCollection.objects.filter(mandate_reference=mandate.reference).count() == 1


@override_settings(DEBIT_UNKNOWN_NOT_RECEIVED_AFTER_SECONDS=0)
def test_a_timeout_before_collecting_is_found_unseen_and_collected_once_more(
    django_capture_on_commit_callbacks,
):
    instalment, mandate = due_instalment()
    script_fault(
        mandate_reference=mandate.reference, outcome=SimulatedFault.Outcome.TIMEOUT_BEFORE_COLLECT
    )
    with django_capture_on_commit_callbacks(execute=True):
        run_debit_job(on_date=timezone.localdate(), kind=DebitRun.Kind.SCHEDULED)
    settle_unresolved_attempts(now=timezone.now() + dt.timedelta(seconds=1))
    first = DebitAttempt.objects.get(instalment=instalment)
    assert (first.state, first.failure_code) == ("failed", "not_received")

    with django_capture_on_commit_callbacks(execute=True):
        run_debit_job(on_date=timezone.localdate(), kind=DebitRun.Kind.RETRY)

    instalment.refresh_from_db()
    assert instalment.state == Instalment.State.PAID
    ledger = SimulatedCollection.objects.filter(mandate_reference=mandate.reference)
    assert list(ledger.values_list("outcome", flat=True)) == ["succeeded"]


def test_a_submitted_attempt_a_dead_worker_left_is_settled_after_the_stale_threshold(settings):
    instalment, mandate = due_instalment()
    claim = _submitted(instalment)
    settle_unresolved_attempts()
    assert DebitAttempt.objects.get(pk=claim.attempt_id).state == DebitAttempt.State.SUBMITTED

    later = timezone.now() + dt.timedelta(seconds=settings.DEBIT_SUBMITTED_STALE_AFTER_SECONDS + 1)
    settle_unresolved_attempts(now=later)

    attempt = DebitAttempt.objects.get(pk=claim.attempt_id)
    assert (attempt.state, attempt.failure_code) == ("failed", "not_received")


def test_a_gateway_outage_is_retried_after_a_backoff(settings, django_capture_on_commit_callbacks):
    instalment, mandate = due_instalment()
    script_fault(mandate_reference=mandate.reference, outcome=SimulatedFault.Outcome.UNAVAILABLE)
    with django_capture_on_commit_callbacks(execute=True):
        run_debit_job(on_date=timezone.localdate(), kind=DebitRun.Kind.SCHEDULED)
    assert DebitAttempt.objects.get(instalment=instalment).failure_code == "gateway_unavailable"

    with django_capture_on_commit_callbacks(execute=True):
        early = run_debit_job(on_date=timezone.localdate(), kind=DebitRun.Kind.RETRY)
    assert early.skips.get().reason == "retry_not_due"

    settings.DEBIT_OUTAGE_BACKOFF_MINUTES = 0
    with django_capture_on_commit_callbacks(execute=True):
        run_debit_job(on_date=timezone.localdate(), kind=DebitRun.Kind.RETRY)
    instalment.refresh_from_db()
    assert instalment.state == Instalment.State.PAID


def test_a_stale_agreement_at_the_network_is_resynced_and_collected_the_same_day(
    django_capture_on_commit_callbacks,
):
    instalment, mandate = due_instalment()
    Mandate.objects.filter(pk=mandate.pk).update(gateway_agreement_token="agr-from-before")

    with django_capture_on_commit_callbacks(execute=True):
        run = run_debit_job(on_date=timezone.localdate(), kind=DebitRun.Kind.SCHEDULED)

    instalment.refresh_from_db()
    assert instalment.state == Instalment.State.PAID
    states = list(
        DebitAttempt.objects.filter(instalment=instalment, run=run)
        .order_by("attempt_number")
        .values_list("failure_code", "state")
    )
    assert states == [("agreement_stale", "failed"), ("", "succeeded")]


def test_a_revoked_agreement_is_retried_a_bounded_number_of_times_a_day(
    django_capture_on_commit_callbacks,
):
    instalment, mandate = due_instalment()
    revoke_agreement(mandate_reference=mandate.reference)

    with django_capture_on_commit_callbacks(execute=True):
        run_debit_job(on_date=timezone.localdate(), kind=DebitRun.Kind.SCHEDULED)

    attempts = list(DebitAttempt.objects.filter(instalment=instalment).order_by("attempt_number"))
    assert len(attempts) == SAME_DAY_BANK_SIDE_RETRIES
    assert {a.failure_code for a in attempts} == {"agreement_revoked"}
    assert attempts[-1].next_retry_on == timezone.localdate() + dt.timedelta(days=1)


def test_account_closed_fails_the_mandate_alerts_and_stops_collecting(
    django_capture_on_commit_callbacks,
):
    instalment, mandate = due_instalment()
    script_fault(mandate_reference=mandate.reference, outcome=SimulatedFault.Outcome.ACCOUNT_CLOSED)
    with django_capture_on_commit_callbacks(execute=True):
        run_debit_job(on_date=timezone.localdate(), kind=DebitRun.Kind.SCHEDULED)
    mandate.refresh_from_db()
    assert mandate.state == Mandate.State.FAILED
    assert Alert.objects.get(mandate=mandate).kind == Alert.Kind.MANDATE_FAILED

    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    with bank_day(tomorrow), django_capture_on_commit_callbacks(execute=True):
        later = run_debit_job(on_date=tomorrow, kind=DebitRun.Kind.RETRY)
    assert later.skips.get().reason == "mandate_failed"
    assert DebitAttempt.objects.filter(instalment=instalment).count() == 1


def test_debit_is_not_sent_with_a_stale_agreement_after_a_password_change(
    django_capture_on_commit_callbacks,
):
    instalment, mandate = due_instalment()
    Card.objects.filter(pk=mandate.card_id).update(credential_version=2)

    with django_capture_on_commit_callbacks(execute=True):
        run_debit_job(on_date=timezone.localdate(), kind=DebitRun.Kind.SCHEDULED)

    mandate.refresh_from_db()
    attempt = DebitAttempt.objects.get(instalment=instalment)
    assert mandate.synced_credential_version == 2
    assert attempt.state == DebitAttempt.State.SUCCEEDED
    assert attempt.presented_credential_version == 2
    ledger = list(SimulatedCollection.objects.filter(mandate_reference=mandate.reference))
    assert [row.outcome for row in ledger] == ["succeeded"]
    assert ledger[0].agreement_token == mandate.gateway_agreement_token
    assert mandate.syncs.filter(trigger="preflight", outcome="succeeded").exists()


def test_a_failed_preflight_resync_skips_the_instalment_and_presents_nothing(
    django_capture_on_commit_callbacks,
):
    instalment, mandate = due_instalment()
    Card.objects.filter(pk=mandate.card_id).update(credential_version=2)
    script_fault(
        mandate_reference=mandate.reference, outcome=SimulatedFault.Outcome.BIND_UNAVAILABLE
    )

    with django_capture_on_commit_callbacks(execute=True):
        run = run_debit_job(on_date=timezone.localdate(), kind=DebitRun.Kind.SCHEDULED)

    assert run.skips.get().reason == "mandate_out_of_sync"
    assert not DebitAttempt.objects.filter(instalment=instalment).exists()
    assert not SimulatedCollection.objects.filter(mandate_reference=mandate.reference).exists()
