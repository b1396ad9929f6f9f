"""The search box: each kind of search finds its customer, shows their masked phone,
cards and loans, takes a fixed number of queries, and on PostgreSQL reads an index."""

import json
import re

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from accounts.pii import card_number_fingerprint
from accounts.selectors import search_customers, search_kind
from tests.conftest import sign_in_verified
from tests.factories import CardFactory, CustomerFactory, LoanFactory, StaffUserFactory

pytestmark = pytest.mark.django_db

CARD_NUMBER = "6222021234563231"
NATIONAL_ID = "11010519900115999X"
PHONE = "13912345678"


@pytest.fixture
def sun():
    customer = CustomerFactory(full_name="孙娟", national_id=NATIONAL_ID, phone=PHONE)
    card = CardFactory(customer=customer, number=CARD_NUMBER)
    LoanFactory(card=card, reference="LN2026000042")
    # Others who share a surname, a phone ending or a card ending, and must not turn up.
    CustomerFactory(full_name="孙娟", phone="13700001111")  # same name, other phone
    CardFactory(
        customer=CustomerFactory(full_name="王芳", phone="13600009999"), number="6222000011110000"
    )
    return customer


@pytest.fixture
def agent():
    return sign_in_verified(Client(), StaffUserFactory(role="agent"))


def _names(page) -> list[str]:
    return re.findall(r'/customers/\d+/">([^<]+)</a>', page.content.decode())


def _search(client, typed):
    return client.post(reverse("customers:customer_search"), {"q": typed}, follow=True)


@pytest.mark.parametrize(
    ("typed", "found"),
    [
        ("孙", ["孙娟", "孙娟"]),  # a surname finds everyone with it
        ("孙娟 5678", ["孙娟"]),  # the name with the last four of the phone
        ("孙娟5678", ["孙娟"]),
        (PHONE, ["孙娟"]),  # a full phone
        ("3231", ["孙娟"]),  # a card's last four
        (CARD_NUMBER, ["孙娟"]),  # a full card number, by fingerprint
        (NATIONAL_ID, ["孙娟"]),  # a national id, by fingerprint
        ("李", []),
    ],
)
def test_each_kind_of_search_finds_its_customer(agent, sun, typed, found):
    page = _search(agent, typed)
    assert _names(page) == found


def test_a_result_shows_the_masked_phone_the_card_last_four_and_the_loan(agent, sun):
    body = _search(agent, "孙娟 5678").content.decode()
    row = body.split('id="search-results"')[1]
    assert "139****5678" in row and "•••• 3231" in row and "LN2026000042" in row
    assert PHONE not in body
    assert f'href="/customers/{sun.pk}/#card-' in row


@pytest.mark.parametrize("typed", [CARD_NUMBER, "6222 0212 3456 3231", NATIONAL_ID, PHONE])
def test_a_full_card_number_national_id_or_phone_never_appears_in_the_url(agent, sun, typed):
    page = _search(agent, typed)
    urls = [url for url, _status in page.redirect_chain]
    assert urls
    for url in urls:
        assert typed.replace(" ", "") not in url.replace("%20", "").replace("+", "")
        assert CARD_NUMBER not in url and NATIONAL_ID not in url and PHONE not in url


def test_every_staff_page_header_has_the_search_box(agent):
    html = agent.get(reverse("dashboard")).content.decode()
    form = re.search(r'<form[^>]*role="search"[^>]*>.*?</form>', html, re.S)[0]
    assert f'action="{reverse("customers:customer_search")}"' in form
    assert 'id="global-search"' in form and 'name="q"' in form and 'type="search"' in form
    assert '<label for="global-search"' in form
    assert 'method="post"' in form and "csrfmiddlewaretoken" in form


def test_the_search_box_is_not_offered_to_someone_who_may_not_see_customers():
    html = Client().get(reverse("login")).content.decode()
    assert 'id="global-search"' not in html


@pytest.mark.parametrize("customers", [1, 30])
def test_a_search_takes_a_fixed_number_of_queries(agent, customers, django_assert_num_queries):
    for n in range(customers):
        card = CardFactory(customer=CustomerFactory(full_name=f"赵敏{n:03d}"))
        LoanFactory(card=card)
        LoanFactory(card=CardFactory(customer=card.customer))
    url = reverse("customers:customer_search")
    agent.get(url, {"q": "赵敏"})
    # The workspace's five (session, staff member, second factor, permissions), then
    # the customers, their cards, their loans.
    with django_assert_num_queries(8):
        page = agent.get(url, {"q": "赵敏"})
    assert len(_names(page)) == min(customers, 25)


def test_results_page_by_next_page_links_without_a_total(agent):
    for n in range(27):
        CustomerFactory(full_name=f"周杰{n:03d}")
    url = reverse("customers:customer_search")
    first = agent.get(url, {"q": "周杰"}).content.decode()
    second = agent.get(url, {"q": "周杰", "page": 2})
    assert 'rel="next"' in first and "Page 1 of" not in first
    assert _names(second) == ["周杰025", "周杰026"]


@pytest.mark.parametrize(
    ("typed", "kind"),
    [
        ("孙娟", "name"),
        ("孙娟 5678", "name_and_phone_last_four"),
        ("3231", "card_last_four"),
        (PHONE, "phone"),
        ("1391234", "phone"),
        (CARD_NUMBER, "card_number"),
        (NATIONAL_ID, "national_id"),
        ("fp:" + "a" * 64, "fingerprint"),
    ],
)
def test_the_search_kind_of_a_query(typed, kind):
    assert search_kind(typed) == kind


# --- On PostgreSQL: every kind reads an index ----------------------------------------------


def _plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        # A small table makes a sequential scan the cheapest plan; ask for the one a
        # million customers get.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        return json.dumps(cursor.fetchone()[0])


@pytest.mark.postgres
@pytest.mark.parametrize(
    "typed",
    [
        "孙娟",
        "孙",
        "孙娟 5678",
        PHONE,
        "1391234",
        "3231",
        CARD_NUMBER,
        NATIONAL_ID,
        "fp:" + card_number_fingerprint(CARD_NUMBER),
    ],
)
def test_each_kind_of_search_reads_an_index_not_the_table(sun, typed):
    plan = _plan(search_customers(typed)[:26])
    scans = re.findall(r'"Node Type": "([^"]+)", [^{}]*?"Relation Name": "([a-z_]+)"', plan)
    assert scans, plan
    for node, table in scans:
        assert node != "Seq Scan", f"{typed}: {node} on {table}"
