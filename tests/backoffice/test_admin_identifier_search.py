"""The admin's search takes full identifiers by POST and ends on a URL of fingerprints."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from accounts.pii import card_number_fingerprint, phone_fingerprint
from tests.conftest import sign_in_verified
from tests.factories import CardFactory, CustomerFactory, StaffUserFactory

pytestmark = pytest.mark.django_db

CARD_NUMBER = "6222021234567890"
NATIONAL_ID = "11010519900115999X"
PHONE = "13912345678"
CUSTOMERS = reverse("admin:accounts_customer_changelist")


@pytest.fixture
def card():
    card = CardFactory(
        number=CARD_NUMBER, customer=CustomerFactory(national_id=NATIONAL_ID, phone=PHONE)
    )
    CardFactory()
    return card


@pytest.fixture
def agent():
    return sign_in_verified(Client(), StaffUserFactory(role="agent"))


def _q(location: str) -> str:
    return parse_qs(urlsplit(location).query)["q"][0]


def test_an_admin_phone_search_ends_on_a_fingerprint_and_finds_the_customer(agent, card):
    response = agent.post(reverse("customers:admin_search"), {"q": PHONE, "changelist": CUSTOMERS})
    assert response.status_code == 302
    location = response["Location"]
    assert PHONE not in location and "5678" not in location
    assert _q(location) == "fp:" + phone_fingerprint(PHONE)
    page = agent.get(location)
    assert [c.pk for c in page.context["cl"].result_list] == [card.customer.pk]
    assert PHONE not in page.content.decode()


def test_a_phone_fingerprint_url_finds_nothing_in_another_session(agent, card):
    location = agent.post(reverse("customers:admin_search"), {"q": PHONE, "changelist": CUSTOMERS})[
        "Location"
    ]
    other = sign_in_verified(Client(), StaffUserFactory(role="agent"))
    assert list(other.get(location).context["cl"].result_list) == []


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        (CARD_NUMBER, lambda: "fp:" + card_number_fingerprint(CARD_NUMBER)),
        (PHONE, lambda: "fp:" + phone_fingerprint(PHONE)),
    ],
)
def test_a_full_identifier_in_an_admin_url_is_moved_out_before_any_link_echoes_it(
    agent, card, typed, expected
):
    for changelist in (CUSTOMERS, reverse("admin:accounts_card_changelist")):
        response = agent.get(changelist, {"q": typed, "status": "active"})
        assert response.status_code == 302
        location = response["Location"]
        assert typed not in location
        assert _q(location) == expected()
        assert parse_qs(urlsplit(location).query)["status"] == ["active"]
        page = agent.get(location)
        assert page.status_code == 200
        body = page.content.decode()
        assert typed not in body
        assert page.context["cl"].result_count == 1


def test_a_name_in_an_admin_url_stays_there(agent, card):
    response = agent.get(CUSTOMERS, {"q": card.customer.full_name})
    assert response.status_code == 200
