"""The customer page's timeline, fetched apart once the page has loaded, in a real browser:
it arrives in place, and when it cannot be fetched the section says so instead of
loading for ever."""

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from debits.models import DebitAttempt
from tests.browser.staff_browser import launched_chromium
from tests.conftest import sign_in_verified
from tests.factories import (
    CardFactory,
    CustomerFactory,
    DebitAttemptFactory,
    LoanFactory,
    MandateFactory,
    StaffUserFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def customer_page(live_server, chromium_path):
    """Opens the page of a customer with a failed debit, signed in as an agent, in
    Chromium; ``blocked`` makes every fetch of the timeline fail."""
    customer = CustomerFactory()
    mandate = MandateFactory(loan=LoanFactory(card=CardFactory(customer=customer)))
    DebitAttemptFactory(
        mandate=mandate, state=DebitAttempt.State.FAILED, failure_code="insufficient_funds"
    )
    session = sign_in_verified(Client(), StaffUserFactory(role="agent")).cookies
    url = live_server.url + reverse("customers:customer_detail", args=[customer.pk])
    with launched_chromium(chromium_path) as browser:

        def open_page(*, blocked: bool = False):
            context = browser.new_context()
            name = settings.SESSION_COOKIE_NAME
            context.add_cookies([{"name": name, "value": session[name].value, "url": url}])
            page = context.new_page()
            if blocked:
                page.route("**/*fragment=timeline*", lambda route: route.abort())
            page.goto(url)
            return page

        yield open_page


def test_the_timeline_arrives_in_place(customer_page):
    page = customer_page()

    page.locator("#timeline table").wait_for(timeout=10_000)

    assert page.locator("#timeline tr.table-warning").count() == 1  # the failed debit
    assert page.locator("#timeline[aria-busy]").count() == 0
    assert page.locator("#timeline [role=status]").count() == 0


def test_a_timeline_that_cannot_be_fetched_says_so(customer_page):
    page = customer_page(blocked=True)

    status = page.locator("#timeline [role=status]")
    # Three tries, three seconds apart; the page's CSP forbids evaluated predicates.
    page.locator("#timeline:not([aria-busy])").wait_for(timeout=20_000)

    assert "could not be loaded" in status.inner_text()
    assert page.locator("#timeline table").count() == 0
