"""The customer 360° page: what went wrong first, every card's collection, the actions
the viewer's role allows, in a fixed number of queries however many cards."""

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from debits.models import CollectionPause, DebitAttempt, Instalment, LateFee
from tests.conftest import sign_in_verified
from tests.factories import (
    CardFactory,
    ComplaintFactory,
    CustomerFactory,
    DebitAttemptFactory,
    LoanFactory,
    MandateFactory,
    StaffUserFactory,
)

pytestmark = pytest.mark.django_db


def _client(role="agent"):
    return sign_in_verified(Client(), StaffUserFactory(role=role))


def _book_of(customer, cards: int):
    """``cards`` cards, each with a loan, a mandate, a failed and a paid attempt, a fee."""
    for n in range(cards):
        card = CardFactory(customer=customer, number=f"62220000{customer.pk:04d}{n:04d}")
        mandate = MandateFactory(loan=LoanFactory(card=card))
        DebitAttemptFactory(mandate=mandate)
        failed = DebitAttemptFactory(
            mandate=mandate, state=DebitAttempt.State.FAILED, failure_code="insufficient_funds"
        )
        LateFee.objects.create(instalment=failed.instalment, amount=Decimal("35.00"))
    return customer


def _page(client, customer, **params):
    return client.get(reverse("customers:customer_detail", args=[customer.pk]), params)


def _queries(client, customer, **params) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert _page(client, customer, **params).status_code == 200
    return len(captured)


def test_the_page_takes_the_same_number_of_queries_for_one_card_and_for_five():
    client = _client()
    one = _book_of(CustomerFactory(), cards=1)
    five = _book_of(CustomerFactory(), cards=5)
    _page(client, one)  # the session's first queries are not the page's

    assert _queries(client, one) == _queries(client, five)


def test_the_page_takes_a_fixed_number_of_queries(django_assert_max_num_queries):
    client = _client()
    customer = _book_of(CustomerFactory(), cards=5)
    _page(client, customer)
    with django_assert_max_num_queries(40):
        _page(client, customer)


def test_the_first_screen_says_what_went_wrong():
    customer = _book_of(CustomerFactory(full_name="孙娟"), cards=1)
    card = customer.cards.get()
    card.credential_version = 2
    card.save(update_fields=["credential_version"])
    ComplaintFactory(card=card)

    html = _page(_client(), customer).content.decode()
    summary = html.split('id="summary"')[1].split("</section>")[0]

    assert "1 failed debit not yet collected" in summary
    assert "1 mandate out of sync with its card" in summary
    assert "1 open complaint" in summary
    assert "All clear" not in summary


def test_a_customer_with_nothing_wrong_reads_all_clear():
    customer = CustomerFactory()
    MandateFactory(loan=LoanFactory(card=CardFactory(customer=customer)))

    html = _page(_client(), customer).content.decode()

    assert "All clear" in html.split('id="summary"')[1].split("</section>")[0]


def test_the_page_shows_cards_mandates_loans_and_their_next_instalments():
    customer = _book_of(CustomerFactory(), cards=2)

    html = _page(_client(), customer).content.decode()

    for card in customer.cards.all():
        assert f"•••• {card.last_four}" in html
        for loan in card.loans.all():
            assert loan.reference in html
        for mandate in card.mandates.all():
            assert mandate.reference in html
    assert "¥35.00" in html  # the late fee
    assert "Transaction password" in html


def test_an_active_pause_is_shown_with_a_resume_action_for_operations():
    customer = _book_of(CustomerFactory(), cards=1)
    card = customer.cards.get()
    operations = StaffUserFactory(role="operations")
    CollectionPause.objects.create(
        scope=CollectionPause.Scope.CARD, card=card, reason="Dispute", paused_by=operations
    )

    html = _page(sign_in_verified(Client(), operations), customer).content.decode()

    assert "Collection paused since" in html
    pause = CollectionPause.objects.get()
    assert reverse("collection:pause_resume", args=[pause.pk]) in html


def test_pausing_a_card_from_the_page_confirms_naming_the_card_and_the_customer():
    customer = _book_of(CustomerFactory(full_name="孙娟"), cards=1)
    card = customer.cards.get()
    client = _client("operations")

    html = _page(client, customer).content.decode()
    link = re.search(r'href="(/debits/pauses/new/\?target=[^"]+)"[^>]*title=', html)[1]
    confirm = client.get(link.replace("&amp;", "&")).content.decode()

    assert f"card •••• {card.last_four} of 孙娟" in confirm
    assert not CollectionPause.objects.exists()


def test_an_agent_sees_only_the_actions_an_agent_may_take():
    customer = _book_of(CustomerFactory(), cards=1)

    agent = _page(_client("agent"), customer).content.decode()
    officer = _page(_client("complaints officer"), customer).content.decode()

    assert "Start a password reset" in agent and "Log a complaint" in agent
    assert "Retry this debit" not in agent and "Request the waiver" not in agent
    assert reverse("collection:pause_create") not in agent
    assert "Retry this debit" in officer and "Request the waiver" in officer


def test_an_auditor_sees_the_page_with_no_action():
    customer = _book_of(CustomerFactory(), cards=1)

    html = _page(_client("auditor"), customer).content.decode()

    assert "Retry this debit" not in html and "Request the waiver" not in html
    assert "Re-sync now" not in html


def test_retrying_from_the_page_confirms_the_amount_and_returns_to_it_with_a_message():
    customer = _book_of(CustomerFactory(full_name="孙娟"), cards=1)
    failed = DebitAttempt.objects.get(state=DebitAttempt.State.FAILED)
    client = _client("complaints officer")
    page_url = reverse("customers:customer_detail", args=[customer.pk])

    html = _page(client, customer).content.decode()
    assert (
        f"Collect ¥{failed.amount:,.2f} again for instalment #{failed.instalment.sequence}" in html
    )
    assert "of 孙娟?" in html
    response = client.post(
        reverse("collection:retry_attempts"), {"attempt": failed.pk, "next": page_url}
    )

    assert response.status_code == 302 and response["Location"] == page_url
    assert [str(m) for m in response.wsgi_request._messages]


def test_requesting_a_waiver_from_the_page_returns_to_it():
    customer = _book_of(CustomerFactory(), cards=1)
    fee = LateFee.objects.get()
    page_url = reverse("customers:customer_detail", args=[customer.pk])

    response = _client("complaints officer").post(
        reverse("collection:fee_waive", args=[fee.pk]),
        {"reason": "Bank-side outage", "next": page_url + "#fees"},
    )

    assert response["Location"] == page_url + "#fees"
    fee.refresh_from_db()
    assert fee.state in (LateFee.State.WAIVED, LateFee.State.WAIVER_PENDING)


def test_debit_attempts_page_with_their_state_filter_kept_in_the_url():
    customer = _book_of(CustomerFactory(), cards=1)
    mandate = customer.cards.get().mandates.get()
    for _ in range(12):
        DebitAttemptFactory(
            mandate=mandate,
            state=DebitAttempt.State.FAILED,
            instalment=Instalment.objects.filter(loan=mandate.loan).first(),
            created_at=timezone.now(),
        )

    first = _page(_client(), customer, attempts="failed").content.decode()
    second = _page(_client(), customer, attempts="failed", attempts_page=2).content.decode()

    assert "?attempts=failed&amp;attempts_page=2#attempts" in first
    attempts = second.split('id="attempts"')[1].split("</section>")[0]
    assert attempts.count("<tr") - 1 == 3  # 13 failed: ten, then three


def test_a_pending_resync_refreshes_its_section_by_itself():
    customer = _book_of(CustomerFactory(), cards=1)
    card = customer.cards.get()
    card.credential_version = 2
    card.save(update_fields=["credential_version"])
    client = _client()

    html = _page(client, customer).content.decode()
    fragment = _page(client, customer, fragment="mandates").content.decode()

    assert "data-refresh-url=" in html and "customer_360.js" in html
    assert fragment.lstrip().startswith("{#") is False and 'id="mandates"' in fragment
    assert "<html" not in fragment
    card.mandates.update(synced_credential_version=2)
    again = _page(client, customer, fragment="mandates").content.decode()
    assert "data-refresh-url=" not in again


def test_the_pending_resync_refresh_reads_the_mandates_alone():
    client = _client("operations")
    one = _book_of(CustomerFactory(), cards=1)
    five = _book_of(CustomerFactory(), cards=5)
    five.cards.update(credential_version=2)
    _page(client, one, fragment="mandates")

    refresh = _queries(client, five, fragment="mandates")

    assert refresh == _queries(client, one, fragment="mandates")
    # The session, the viewer and three reads (cards, their changes, the mandates):
    # polled every few seconds, it does not build the page.
    assert refresh <= _queries(client, five) - 10
    fragment = _page(client, five, fragment="mandates").content.decode()
    assert fragment.count("Pending re-sync") == 5 and fragment.count("Re-sync now") == 5
    assert fragment.count("Pause this mandate") == 5


def test_the_timeline_is_served_apart_and_the_page_fetches_it():
    customer = _book_of(CustomerFactory(), cards=2)
    failed = DebitAttempt.objects.filter(state=DebitAttempt.State.FAILED).first()
    client = _client()

    html = _page(client, customer).content.decode()
    timeline = html.split('id="timeline"')[1].split("</section>")[0]
    fragment = _page(client, customer, fragment="timeline").content.decode()

    assert "?fragment=timeline" in timeline and "Loading the timeline" in timeline
    assert "<tr" not in timeline  # no entry is read for the page itself
    assert "customer_360.js" in html
    assert 'id="timeline"' in fragment and "<html" not in fragment
    assert "data-fragment-url" not in fragment
    # Both cards' entries, the failed debits among them, in one list.
    assert fragment.count('class="table-warning"') >= 2
    assert f"¥{failed.amount:,.2f}" in fragment


def test_the_timeline_takes_the_same_number_of_queries_for_one_card_and_for_five():
    client = _client()
    one = _book_of(CustomerFactory(), cards=1)
    five = _book_of(CustomerFactory(), cards=5)
    _page(client, one, fragment="timeline")

    counts = []
    for customer in (one, five):
        with CaptureQueriesContext(connection) as captured:
            _page(client, customer, fragment="timeline")
        counts.append(len(captured))

    assert counts[0] == counts[1]


def test_a_customer_without_cards_has_an_empty_timeline():
    fragment = _page(_client(), CustomerFactory(), fragment="timeline").content.decode()

    assert "Nothing in the last 90 days." in fragment


def test_the_timeline_is_only_for_staff_who_may_see_the_customer():
    customer = _book_of(CustomerFactory(), cards=1)
    url = reverse("customers:customer_detail", args=[customer.pk])

    response = Client().get(url, {"fragment": "timeline"})

    assert response.status_code == 302 and "¥" not in response.content.decode()
