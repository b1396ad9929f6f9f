"""Staff pages of the debit engine: run progress, failed attempts, retry, export, pauses,
manual runs, and the card page's instalments."""

import csv
import io

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from accounts.roles import Role
from debits.models import CollectionPause, DebitAttempt, DebitRun, Instalment, LateFee
from debits.services import accrue_late_fees, run_debit_job
from simulator.faults import script_fault
from tests.conftest import sign_in_verified
from tests.debit_helpers import due_instalment, eager_celery
from tests.factories import StaffUserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]

__all__ = ["eager_celery"]


def _client(role: Role) -> Client:
    return sign_in_verified(Client(), StaffUserFactory(role=role.value))


def _run_with_one_failure(dj) -> DebitRun:
    due_instalment()
    _, bad = due_instalment()
    script_fault(mandate_reference=bad.reference, outcome="insufficient_funds")
    with dj(execute=True):
        run = run_debit_job(on_date=timezone.localdate(), kind=DebitRun.Kind.SCHEDULED)
    return run


def test_the_run_page_shows_counts_by_outcome_and_failure_code(
    django_capture_on_commit_callbacks,
):
    run = _run_with_one_failure(django_capture_on_commit_callbacks)
    client = _client(Role.OPERATIONS)

    page = client.get(reverse("collection:run_detail", args=[run.pk]))
    progress = client.get(reverse("collection:run_progress", args=[run.pk])).json()

    assert page.status_code == 200
    assert b"insufficient_funds" in page.content
    assert b"debit_run_progress.js" in page.content
    assert b"style=" not in page.content and b"<script>" not in page.content
    assert progress["state"] == "completed"
    assert progress["percent"] == 100
    assert progress["attempts_by_state"]["succeeded"] == 1
    assert progress["failures_by_code"] == {"insufficient_funds": 1}


def test_the_failed_attempt_list_filters_and_retries_selected(
    django_capture_on_commit_callbacks,
):
    _run_with_one_failure(django_capture_on_commit_callbacks)
    failed = DebitAttempt.objects.get(state="failed")
    client = _client(Role.OPERATIONS)

    listed = client.get(reverse("collection:attempt_list"), {"failure_code": "insufficient_funds"})
    none = client.get(reverse("collection:attempt_list"), {"failure_code": "account_closed"})
    assert failed.idempotency_key.encode() in listed.content
    assert failed.idempotency_key.encode() not in none.content

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("collection:retry_attempts"), {"attempt": [failed.pk]})

    assert response.status_code == 302
    failed.instalment.refresh_from_db()
    assert failed.instalment.state == Instalment.State.PAID


def test_the_export_carries_references_and_masked_cards_only(
    django_capture_on_commit_callbacks,
):
    _run_with_one_failure(django_capture_on_commit_callbacks)
    failed = DebitAttempt.objects.select_related("mandate__card__customer").get(state="failed")
    customer = failed.mandate.card.customer

    response = _client(Role.OPERATIONS).get(reverse("collection:attempt_export"))

    body = b"".join(response.streaming_content).decode()
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0][0] == "attempt" and len(rows) == 2
    assert rows[1][1] == failed.idempotency_key
    assert rows[1][7].endswith(failed.mandate.card.last_four)
    assert customer.full_name not in body and customer.phone not in body
    assert AuditEvent.objects.filter(action="debit_attempt.exported").exists()


def test_a_manual_run_is_started_from_the_form():
    due_instalment()
    client = _client(Role.SUPERVISOR)
    response = client.post(
        reverse("collection:start_run"),
        {"run_date": timezone.localdate().isoformat(), "dry_run": "on"},
    )
    run = DebitRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("collection:run_detail", args=[run.pk])
    assert run.dry_run and run.kind == DebitRun.Kind.MANUAL and run.selected_count == 1


def test_a_bad_run_date_is_a_form_error_not_a_500():
    response = _client(Role.OPERATIONS).post(reverse("collection:start_run"), {"run_date": "nope"})
    assert response.status_code == 200
    assert b"errorlist" in response.content
    assert not DebitRun.objects.exists()


def test_operations_pause_and_resume_a_card_from_the_pause_page():
    _, mandate = due_instalment()
    client = _client(Role.OPERATIONS)

    client.post(
        reverse("collection:pause_create"),
        {"scope": "card", "card_id": mandate.card_id, "reason": "Suspected fraud"},
    )
    pause = CollectionPause.objects.get()
    assert (pause.scope, pause.card_id, pause.reason) == (
        "card",
        mandate.card_id,
        "Suspected fraud",
    )
    assert b"Suspected fraud" in client.get(reverse("collection:pause_list")).content

    client.post(reverse("collection:pause_resume", args=[pause.pk]), {"reason": "Cleared"})
    pause.refresh_from_db()
    assert pause.resumed_at is not None


def test_a_pause_form_naming_no_card_shows_an_error():
    response = _client(Role.OPERATIONS).post(
        reverse("collection:pause_create"), {"scope": "card", "card_id": "", "reason": "x"}
    )
    assert response.status_code == 200
    assert b"No such card" in response.content
    assert not CollectionPause.objects.exists()


def test_the_card_page_shows_each_instalment_with_its_attempts_and_fees(
    django_capture_on_commit_callbacks,
):
    import datetime as dt

    late, mandate = due_instalment(due_date=timezone.localdate() - dt.timedelta(days=10))
    script_fault(mandate_reference=mandate.reference, outcome="insufficient_funds")
    with django_capture_on_commit_callbacks(execute=True):
        run_debit_job(on_date=timezone.localdate(), kind=DebitRun.Kind.MANUAL)
    accrue_late_fees(on_date=timezone.localdate())
    client = _client(Role.COMPLAINTS_OFFICER)

    response = client.get(reverse("customers:card_detail", args=[mandate.card_id]))

    content = response.content.decode()
    assert "Instalments, debit attempts and fees" in content
    assert "insufficient_funds" in content
    fee = LateFee.objects.get()
    assert reverse("collection:fee_waive", args=[fee.pk]) in content

    client.post(reverse("collection:fee_waive", args=[fee.pk]), {"reason": "Hospital stay"})
    fee.refresh_from_db()
    assert fee.state == LateFee.State.WAIVED


def test_the_admin_retries_failed_attempts_through_the_service(
    django_capture_on_commit_callbacks,
):
    _run_with_one_failure(django_capture_on_commit_callbacks)
    failed = DebitAttempt.objects.get(state="failed")
    client = _client(Role.OPERATIONS)

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("admin:debits_debitattempt_changelist"),
            {"action": "retry_debit_attempts_action", "_selected_action": [failed.pk]},
        )

    failed.instalment.refresh_from_db()
    assert failed.instalment.state == Instalment.State.PAID
    assert DebitRun.objects.filter(kind=DebitRun.Kind.MANUAL).exists()


def test_the_admin_pauses_a_mandate_only_with_a_reason():
    _, mandate = due_instalment()
    client = _client(Role.OPERATIONS)
    url = reverse("admin:debits_mandate_changelist")
    selected = {"action": "pause_mandates_action", "_selected_action": [mandate.pk]}

    asked = client.post(url, selected)
    assert asked.status_code == 200 and b"reason" in asked.content
    assert not CollectionPause.objects.exists()

    client.post(url, {**selected, "apply": "1", "reason": "Customer in dispute"})
    pause = CollectionPause.objects.get()
    assert (pause.mandate_id, pause.reason) == (mandate.pk, "Customer in dispute")
