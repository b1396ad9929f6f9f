"""A full card number, national id or phone typed into a search never reaches a URL.

The staff customer search and the admin's changelist search both post; a full
identifier comes back as a redirect to a URL holding only its keyed fingerprints
(``fp:<hex>``), or for a phone its masked form, so browser history, Referer
headers and access logs never see it.
"""

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from accounts.pii import card_number_fingerprint, national_id_fingerprint
from tests.conftest import sign_in_verified
from tests.factories import CardFactory, CustomerFactory, LoanFactory, StaffUserFactory

pytestmark = pytest.mark.django_db

CARD_NUMBER = "6222021234567890"
NATIONAL_ID = "11010519900115999X"
PHONE = "13912345678"


@pytest.fixture
def card():
    card = CardFactory(
        number=CARD_NUMBER, customer=CustomerFactory(national_id=NATIONAL_ID, phone=PHONE)
    )
    CardFactory()  # someone else, who must not turn up
    return card


@pytest.fixture
def agent():
    return sign_in_verified(Client(), StaffUserFactory(role="agent"))


@pytest.fixture
def admin_client():
    return sign_in_verified(Client(), StaffUserFactory(is_superuser=True))


def _names_on(page) -> list[str]:
    return re.findall(r'/customers/\d+/">([^<]+)</a>', page.content.decode())


# --- The staff customer search ------------------------------------------------------


def test_the_customer_search_box_posts_with_a_csrf_token(agent):
    page = agent.get(reverse("customers:customer_search"))
    form = re.search(r"<form[^>]*toolbar[^>]*>.*?</form>", page.content.decode(), re.S)[0]
    assert 'method="post"' in form
    assert 'name="csrfmiddlewaretoken"' in form


@pytest.mark.parametrize(
    ("typed", "fingerprint", "masked"),
    [
        (CARD_NUMBER, card_number_fingerprint(CARD_NUMBER), "searched for"),
        ("6222 0212 3456 7890", card_number_fingerprint(CARD_NUMBER), "searched for"),
        (NATIONAL_ID, national_id_fingerprint(NATIONAL_ID), "searched for"),
    ],
)
def test_a_full_card_number_or_national_id_search_ends_on_a_url_of_fingerprints(
    agent, card, typed, fingerprint, masked
):
    response = agent.post(reverse("customers:customer_search"), {"q": typed})
    assert response.status_code == 302
    location = response["Location"]
    for secret in (CARD_NUMBER, NATIONAL_ID, "6222", "X"):
        assert secret not in location
    assert fingerprint in parse_qs(urlsplit(location).query)["q"][0]
    page = agent.get(location)
    assert _names_on(page) == [card.customer.full_name]
    body = page.content.decode()
    assert CARD_NUMBER not in body and NATIONAL_ID not in body
    assert masked in body


def test_a_full_phone_search_ends_on_a_url_with_the_phone_masked(agent, card):
    response = agent.post(reverse("customers:customer_search"), {"q": PHONE})
    assert response.status_code == 302
    assert PHONE not in response["Location"]
    assert parse_qs(urlsplit(response["Location"]).query)["q"] == ["139****5678"]
    page = agent.get(response["Location"])
    assert _names_on(page) == [card.customer.full_name]
    assert PHONE not in page.content.decode()


def test_a_masked_phone_in_a_url_finds_only_the_phone_this_session_searched_for(card):
    other = sign_in_verified(Client(), StaffUserFactory(role="agent"))
    page = other.get(reverse("customers:customer_search"), {"q": "139****5678"})
    assert _names_on(page) == []


def test_a_full_identifier_in_an_old_search_url_is_moved_out_of_it(agent, card):
    response = agent.get(reverse("customers:customer_search"), {"q": CARD_NUMBER})
    assert response.status_code == 302
    assert CARD_NUMBER not in response["Location"]
    assert _names_on(agent.get(response["Location"])) == [card.customer.full_name]


def test_a_name_search_stays_in_the_url_and_pages_through_the_results(agent):
    for n in range(30):
        CustomerFactory(full_name=f"Wang {n:02d}")
    response = agent.post(reverse("customers:customer_search"), {"q": "Wang"})
    assert response.status_code == 302
    assert parse_qs(urlsplit(response["Location"]).query)["q"] == ["Wang"]
    first = agent.get(response["Location"])
    assert len(_names_on(first)) == 25
    assert 'value="Wang"' in first.content.decode()
    next_link = re.search(r'href="(\?q=Wang&amp;page=2)"', first.content.decode())[1]
    second = agent.get(reverse("customers:customer_search") + next_link.replace("&amp;", "&"))
    assert _names_on(second) == [f"Wang {n}" for n in range(25, 30)]


def test_an_empty_search_returns_to_the_empty_page(agent):
    response = agent.post(reverse("customers:customer_search"), {"q": "  "})
    assert response["Location"] == reverse("customers:customer_search")


# --- The admin's changelist search --------------------------------------------------


def test_the_admin_search_box_posts_to_the_search_view_with_a_csrf_token(admin_client):
    page = admin_client.get(reverse("admin:accounts_customer_changelist"))
    form = re.search(r'<form id="changelist-search".*?</form>', page.content.decode(), re.S)[0]
    assert 'method="post"' in form
    assert f'action="{reverse("customers:admin_search")}"' in form
    assert 'name="csrfmiddlewaretoken"' in form


@pytest.mark.parametrize(
    ("changelist", "typed"),
    [
        ("admin:accounts_customer_changelist", CARD_NUMBER),
        ("admin:accounts_customer_changelist", NATIONAL_ID),
        ("admin:accounts_card_changelist", "6222-0212-3456-7890"),
        ("admin:debits_loan_changelist", CARD_NUMBER),
    ],
)
def test_an_admin_search_by_full_identifier_ends_on_a_url_without_it_and_finds_it(
    admin_client, card, changelist, typed
):
    loan = LoanFactory(card=card)
    LoanFactory()
    response = admin_client.post(
        reverse("customers:admin_search"), {"q": typed, "changelist": reverse(changelist)}
    )
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith(reverse(changelist) + "?")
    assert CARD_NUMBER not in location and NATIONAL_ID not in location and "6222" not in location
    assert parse_qs(urlsplit(location).query)["q"][0].startswith("fp:")
    page = admin_client.get(location)
    assert page.status_code == 200
    body = page.content.decode()
    assert CARD_NUMBER not in body and NATIONAL_ID not in body
    box = re.search(r'<input[^>]*id="searchbar"[^>]*>', body)[0]
    assert "fp:" not in box  # the box is left empty, not filled with fingerprints
    assert page.context["cl"].result_count == 1
    found = page.context["cl"].result_list[0]
    assert found.pk == {"admin:debits_loan_changelist": loan.pk}.get(
        changelist, card.pk if "card" in changelist else card.customer.pk
    )


def test_an_admin_text_search_keeps_its_filters_and_stays_plain(admin_client, card):
    response = admin_client.post(
        reverse("customers:admin_search"),
        {
            "q": card.customer.full_name,
            "changelist": reverse("admin:accounts_customer_changelist"),
            "status": "active",
        },
    )
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query == {"q": [card.customer.full_name], "status": ["active"]}
    page = admin_client.get(response["Location"])
    assert [c.pk for c in page.context["cl"].result_list] == [card.customer.pk]


@pytest.mark.parametrize(
    "changelist", ["https://elsewhere.example/admin/", "/customers/", "//elsewhere.example/admin/"]
)
def test_the_admin_search_sends_nowhere_but_the_admin(admin_client, changelist):
    response = admin_client.post(
        reverse("customers:admin_search"), {"q": CARD_NUMBER, "changelist": changelist}
    )
    assert response["Location"] == reverse("admin:index")


def test_the_admin_search_takes_no_get(admin_client):
    response = admin_client.get(reverse("customers:admin_search"), {"q": CARD_NUMBER})
    assert response.status_code == 405
