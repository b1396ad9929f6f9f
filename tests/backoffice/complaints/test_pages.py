"""The complaint pages: intake, the complaint, the queue and the timeline, in fixed queries."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from accounts.audit import AuditAction, record_audit_event
from accounts.models import CustomerNotice, PasswordChange
from backoffice.complaints.models import Complaint
from debits.models import CollectionPause, LateFee
from tests.backoffice.complaints.conftest import build_seed_case
from tests.conftest import sign_in_verified
from tests.factories import (
    ComplaintFactory,
    DebitAttemptFactory,
    InstalmentFactory,
    MandateSyncFactory,
    StaffUserFactory,
)

pytestmark = pytest.mark.django_db


def add_history(case, *, months: int) -> None:
    """A month of business per month back: change, re-syncs, debits, a fee, a notice, actions."""
    staff = StaffUserFactory(role="operations")
    for month in range(1, months + 1):
        at = timezone.now() - dt.timedelta(days=30 * month)
        PasswordChange.objects.create(
            card=case.card, kind="transaction", channel="atm", credential_version=1, changed_at=at
        )
        MandateSyncFactory(mandate=case.mandate, requested_at=at, requested_by=staff)
        instalment = InstalmentFactory(
            loan=case.mandate.loan, sequence=100 + month, due_date=at.date()
        )
        DebitAttemptFactory(
            mandate=case.mandate,
            instalment=instalment,
            attempt_number=1,
            state="failed",
            failure_code="insufficient_funds",
            created_at=at,
        )
        DebitAttemptFactory(
            mandate=case.mandate, instalment=instalment, attempt_number=2, created_at=at
        )
        LateFee.objects.create(
            instalment=instalment,
            amount=Decimal("50.00"),
            accrued_at=at,
            state="waived",
            waived_at=at,
            waiver_requested_by=staff,
        )
        CollectionPause.objects.create(
            scope="card",
            card=case.card,
            reason="Dispute",
            paused_by=staff,
            paused_at=at,
            resumed_at=at,
            resumed_by=staff,
        )
        CustomerNotice.objects.create(
            customer=case.card.customer,
            card=case.card,
            topic="debit_failed",
            language="en",
            subject="Your loan repayment did not go through",
            body="...",
            dedup_key=f"history:{case.card.pk}:{month}",
            created_at=at,
            sent_at=at,
        )
        record_audit_event(actor=staff, action=AuditAction.CARD_PASSWORD_VERIFIED, target=case.card)


def queries_for(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured)


@pytest.fixture
def officer_client(client, officer):
    sign_in_verified(client, officer)
    return client


def test_the_complaint_page_shows_the_diagnosis_and_offers_its_remedies(officer_client, officer):
    case = build_seed_case()
    complaint = ComplaintFactory(card=case.card, logged_by=officer)

    page = officer_client.get(f"/complaints/{complaint.pk}/")

    body = page.content.decode()
    assert "Bank-side sync failure" in body
    assert "the agreement was still bound to the old password" in body
    assert "扣款协议仍绑定在旧密码上" in body
    for code in ("resync", "retry", "waive_fee"):
        assert f'value="{code}"' in body
    assert 'value="refund_interest"' not in body and 'value="refund_duplicate"' not in body
    # What the bank holds, so nobody asks the customer for it.
    assert case.card.customer.national_id_masked in body
    assert f"{case.mandate.reference} (active, " in body and "bound to v1" in body


def test_the_complaint_page_and_the_timeline_take_fixed_queries_on_two_years_of_history(
    officer_client, officer, django_assert_num_queries
):
    short, long = build_seed_case(), build_seed_case()
    add_history(short, months=1)
    add_history(long, months=24)
    short_complaint = ComplaintFactory(card=short.card, logged_by=officer)
    long_complaint = ComplaintFactory(card=long.card, logged_by=officer)

    short_page = queries_for(officer_client, f"/complaints/{short_complaint.pk}/")
    with django_assert_num_queries(short_page):
        officer_client.get(f"/complaints/{long_complaint.pk}/")

    short_timeline = queries_for(officer_client, f"/complaints/cards/{short.card.pk}/timeline/")
    with django_assert_num_queries(short_timeline):
        page = officer_client.get(f"/complaints/cards/{long.card.pk}/timeline/")
    assert page.content.decode().count("Late fee of ¥50.00 charged") >= 1


def test_the_queue_takes_fixed_queries_however_many_complaints(
    officer_client, officer, django_assert_num_queries
):
    ComplaintFactory(assignee=officer)
    few = queries_for(officer_client, "/complaints/")
    for _ in range(15):
        ComplaintFactory(assignee=StaffUserFactory())
    with django_assert_num_queries(few):
        page = officer_client.get("/complaints/")
    assert page.content.decode().count("/complaints/") >= 16


def test_the_queue_comes_in_pages_by_deadline_keeping_its_filters(
    officer_client, officer, monkeypatch
):
    monkeypatch.setattr("backoffice.complaints.selectors.QUEUE_PAGE_SIZE", 2)
    now = timezone.now()
    first, second, third = (
        ComplaintFactory(assignee=officer, received_at=now - dt.timedelta(days=days))
        for days in (30, 20, 10)
    )

    page_one = officer_client.get("/complaints/?mine=1").content.decode()
    page_two = officer_client.get("/complaints/?mine=1&page=2").content.decode()

    assert f'href="/complaints/{first.pk}/"' in page_one
    assert f'href="/complaints/{second.pk}/"' in page_one
    assert f'href="/complaints/{third.pk}/"' not in page_one
    assert "Page 1 of 2 (3 complaints)" in page_one
    assert 'href="?mine=1&amp;page=2"' in page_one
    assert f'href="/complaints/{third.pk}/"' in page_two
    assert f'href="/complaints/{first.pk}/"' not in page_two
    # Not a page number, or past the last: the nearest page, never an error.
    assert officer_client.get("/complaints/?page=abc").status_code == 200
    assert f"/complaints/{third.pk}/" in officer_client.get("/complaints/?page=99").content.decode()


def test_the_queue_per_officer_shows_only_their_complaints(officer_client, officer):
    mine = ComplaintFactory(assignee=officer)
    theirs = ComplaintFactory(assignee=StaffUserFactory())

    page = officer_client.get("/complaints/?mine=1").content.decode()

    assert f'href="/complaints/{mine.pk}/"' in page
    assert f'href="/complaints/{theirs.pk}/"' not in page


def test_an_agent_logs_a_complaint_from_the_customer_page(client):
    case = build_seed_case()
    agent = StaffUserFactory(role="agent")
    sign_in_verified(client, agent)
    url = f"/complaints/new/customer/{case.card.customer_id}/?card={case.card.pk}"
    assert client.get(url).status_code == 200

    response = client.post(
        url,
        {
            "card": case.card.pk,
            "category": "debit_failed_after_password_change",
            "channel": "phone",
            "description": "My debit failed after I changed my password in the app.",
            "received_at": "",
        },
    )

    complaint = Complaint.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/complaints/{complaint.pk}/"
    assert complaint.logged_by == agent and complaint.card == case.card


def test_an_illegal_transition_on_the_page_is_a_message_not_an_error(officer_client, officer):
    complaint = ComplaintFactory(logged_by=officer)

    response = officer_client.post(f"/complaints/{complaint.pk}/close/", follow=True)

    assert response.status_code == 200
    assert "cannot become closed" in response.content.decode()


def test_the_team_queue_shows_only_that_teams_complaints(officer_client):
    ours = ComplaintFactory(team="card_operations")
    other = ComplaintFactory(team="complaints_desk")

    page = officer_client.get("/complaints/?team=card_operations").content.decode()

    assert f'href="/complaints/{ours.pk}/"' in page
    assert f'href="/complaints/{other.pk}/"' not in page


def test_a_complaint_logged_in_the_admin_goes_through_the_intake_service(officer_client):
    from accounts.models import AuditEvent, CustomerNotice

    case = build_seed_case()

    response = officer_client.post(
        "/admin/complaints/complaint/add/",
        {
            "customer": case.card.customer_id,
            "card": case.card.pk,
            "category": "fee_dispute",
            "channel": "letter",
            "description": "The late fee is not mine to pay.",
            "received_at_0": (timezone.localdate() - dt.timedelta(days=1)).isoformat(),
            "received_at_1": "08:00:00",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    complaint = Complaint.objects.get()
    assert complaint.channel == "letter"
    assert AuditEvent.objects.filter(action="complaint.logged", object_id=complaint.pk).exists()
    assert CustomerNotice.objects.filter(topic="complaint_acknowledged").exists()


def test_the_complaint_page_says_when_the_mandate_is_in_sync(officer_client, officer):
    case = build_seed_case()
    case.mandate.synced_credential_version = 2
    case.mandate.save(update_fields=["synced_credential_version"])
    complaint = ComplaintFactory(card=case.card, logged_by=officer)

    body = officer_client.get(f"/complaints/{complaint.pk}/").content.decode()

    assert f"{case.mandate.reference} (active, in sync)" in body


def test_the_queue_shows_each_complaints_labels_links_and_overdue_deadline(officer_client):
    late = ComplaintFactory(
        team="card_operations", received_at=timezone.now() - dt.timedelta(days=40)
    )
    on_time = ComplaintFactory()

    page = officer_client.get("/complaints/").content.decode()

    assert f'href="/complaints/{late.pk}/"' in page
    assert f'href="/customers/{late.customer_id}/"' in page
    assert late.get_category_display() in page and "Card operations" in page
    assert f'<span class="badge bad">{late.due_on:%Y-%m-%d}</span>' in page
    assert f'<span class="badge bad">{on_time.due_on:%Y-%m-%d}</span>' not in page


def test_the_queue_speaks_the_staff_members_language(officer_client, officer):
    complaint = ComplaintFactory(team="card_operations")
    type(officer).objects.filter(pk=officer.pk).update(language="zh-hans")

    page = officer_client.get("/complaints/").content.decode()

    with translation.override("zh-hans"):
        assert complaint.get_category_display() in page
        assert complaint.get_state_display() in page
