"""An invalid filter value is a form error: lists and exports never widen to every row."""

import pytest
from django.urls import reverse

from accounts.audit import AuditAction, record_audit_event
from accounts.models import AuditEvent
from tests.factories import InstalmentFactory, MandateFactory, StaffUserFactory

pytestmark = pytest.mark.django_db


def _failed_attempt():
    from django.utils import timezone

    from debits.models import DebitAttempt

    instalment = InstalmentFactory()
    mandate = MandateFactory(loan=instalment.loan)
    return DebitAttempt.objects.create(
        instalment=instalment,
        mandate=mandate,
        attempt_number=1,
        idempotency_key=f"filter-test-{instalment.pk}",
        amount=instalment.amount_due,
        presented_credential_version=mandate.synced_credential_version,
        state=DebitAttempt.State.FAILED,
        failure_code="insufficient_funds",
        finished_at=timezone.now(),
    )


@pytest.fixture
def events():
    someone = StaffUserFactory()
    for _ in range(5):
        record_audit_event(actor=someone, action=AuditAction.STAFF_UNLOCKED, target=someone)


def _exports() -> int:
    return AuditEvent.objects.filter(action="audit.exported").count()


def test_an_impossible_date_on_the_audit_export_is_a_form_error_and_exports_nothing(
    staff_client, events
):
    client = staff_client(role="auditor")
    response = client.get(reverse("audit:export"), {"occurred_after": "2026-02-30"})
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert "occurred_after" in response.context["filter"].errors
    assert b"nothing is shown until it is corrected" in response.content
    assert _exports() == 0


def test_an_impossible_date_on_the_audit_trail_shows_the_error_and_no_events(staff_client, events):
    client = staff_client(role="auditor")
    response = client.get(reverse("audit:trail"), {"occurred_before": "2026-13-01"})
    assert response.status_code == 200
    assert response.context["filter_invalid"]
    assert list(response.context["page"]) == []
    assert b"errorlist" in response.content


def test_the_audit_export_records_only_the_filters_it_applied(staff_client, events):
    client = staff_client(role="auditor")
    response = client.get(
        reverse("audit:export"),
        {"action": "staff.unlock", "occurred_after": "", "made_up": "x", "page": "3"},
    )
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    assert body.count("staff.unlocked") == 5
    event = AuditEvent.objects.get(action="audit.exported")
    assert event.summary["filters"] == {"action": "staff.unlock"}


@pytest.mark.parametrize(
    "query",
    [{"created_from": "2026-02-30"}, {"state": "succeeded"}, {"run": "not-a-number"}],
)
def test_an_invalid_debit_attempt_filter_is_a_form_error_on_the_list_and_the_export(
    staff_client, query
):
    _failed_attempt()  # a row an ignored filter would show
    client = staff_client(role="operations")
    assert len(client.get(reverse("collection:attempt_list")).context["page"]) == 1
    page = client.get(reverse("collection:attempt_list"), query)
    assert page.status_code == 200
    assert page.context["filter_invalid"]
    assert list(page.context["page"]) == []
    export = client.get(reverse("collection:attempt_export"), query)
    assert export.status_code == 400
    assert not AuditEvent.objects.filter(action="debit_attempt.exported").exists()
