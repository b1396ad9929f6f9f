"""Pausing and resuming collection: the target is chosen on the page you are on or by a
search that shows the customer, never by a typed id; every pause and resume is confirmed
naming the card and the customer; the whole book needs operations and a second
confirmation."""

import html
import re
from urllib.parse import unquote

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from accounts.roles import Role
from debits.models import CollectionPause
from debits.services import CollectionControlError, pause_collection
from tests.conftest import sign_in_verified
from tests.factories import (
    CardFactory,
    CustomerFactory,
    LoanFactory,
    MandateFactory,
    StaffUserFactory,
)

pytestmark = pytest.mark.django_db

PAUSE_LINK = re.compile(r'href="(/[^"]*pauses/new/\?target=[^"]+)"')


def _client(role: Role) -> Client:
    return sign_in_verified(Client(), StaffUserFactory(role=role.value))


def _card_of(name: str, number: str):
    card = CardFactory(customer=CustomerFactory(full_name=name), number=number)
    MandateFactory(loan=LoanFactory(card=card))
    return card


def _links(page) -> list[str]:
    return [html.unescape(href) for href in PAUSE_LINK.findall(page.content.decode())]


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_pause_for_this_card_confirms_the_card_and_customer_then_reports_back():
    card = _card_of("孙娟", "6222000000003231")
    client = _client(Role.OPERATIONS)
    card_page = reverse("customers:card_detail", args=[card.pk])

    card_link, mandate_link = _links(client.get(card_page))
    confirm = client.get(card_link)
    assert "Pause collection for card •••• 3231 of 孙娟" in confirm.content.decode()
    assert not CollectionPause.objects.exists()  # opening the confirmation pauses nothing

    token = re.search(r'name="target" value="([^"]+)"', confirm.content.decode()).group(1)
    done = client.post(
        reverse("collection:pause_create"),
        {"target": html.unescape(token), "reason": "Suspected fraud", "next": card_page},
    )

    pause = CollectionPause.objects.get()
    assert (pause.scope, pause.card_id, pause.reason) == ("card", card.pk, "Suspected fraud")
    assert done["Location"] == card_page
    assert "Collection paused for card •••• 3231 of 孙娟." in " ".join(_messages(done))
    shown = client.get(card_page).content.decode()
    assert "Collection is paused for card •••• 3231 of 孙娟" in shown


def test_a_mandate_is_paused_from_its_row_on_the_card_page():
    card = _card_of("孙娟", "6222000000003231")
    mandate = card.mandates.get()
    client = _client(Role.SUPERVISOR)

    _, mandate_link = _links(client.get(reverse("customers:card_detail", args=[card.pk])))
    confirm = client.get(mandate_link).content.decode()
    assert f"Pause collection for mandate {mandate.reference}" in confirm
    assert "of 孙娟" in confirm
    token = html.unescape(re.search(r'name="target" value="([^"]+)"', confirm).group(1))
    client.post(reverse("collection:pause_create"), {"target": token, "reason": "Dispute"})

    pause = CollectionPause.objects.get()
    assert (pause.scope, pause.mandate_id) == ("mandate", mandate.pk)


def test_the_pause_search_shows_the_customer_and_the_card_last_four():
    _card_of("孙娟", "6222000000003231")
    _card_of("王芳", "6222000000007777")
    client = _client(Role.OPERATIONS)

    found = client.get(reverse("collection:pause_list"), {"q": "孙娟"}).content.decode()

    assert "孙娟" in found and "•••• 3231" in found
    assert "王芳" not in found
    # One card, one mandate (a supervisor is offered no whole-book pause).
    by_last_four = _client(Role.SUPERVISOR).get(reverse("collection:pause_list"), {"q": "3231"})
    assert len(_links(by_last_four)) == 2


def test_the_pause_form_has_no_default_scope_and_needs_a_chosen_target():
    card = _card_of("孙娟", "6222000000003231")
    client = _client(Role.OPERATIONS)

    page = client.get(reverse("collection:pause_list")).content.decode()
    assert 'name="scope"' not in page and 'name="card_id"' not in page
    response = client.post(reverse("collection:pause_create"), {"reason": "x"})

    assert response.status_code == 302
    assert "Choose what to pause" in " ".join(_messages(response))
    assert not CollectionPause.objects.exists()
    assert card.pk  # nothing was paused


def test_an_id_typed_by_hand_cannot_pause_another_customers_card():
    mine = _card_of("孙娟", "6222000000003231")
    theirs = _card_of("王芳", "6222000000007777")
    client = _client(Role.OPERATIONS)
    url = reverse("collection:pause_create")

    # The old form's fields, an unsigned target, and an edited id in the address bar.
    client.post(url, {"scope": "card", "card_id": theirs.pk, "reason": "Typo"})
    client.post(url, {"target": f'["card", {theirs.pk}]', "reason": "Typo"})
    [link, _] = _links(client.get(reverse("customers:card_detail", args=[mine.pk])))
    token = link.split("target=")[1].split("&")[0]
    forged = token.replace(str(mine.pk), str(theirs.pk), 1)
    client.post(url, {"target": forged, "reason": "Typo"})
    edited = client.get(f"{url}?card={theirs.pk}")
    assert edited.status_code == 302
    assert not CollectionPause.objects.exists()

    # A signed target with a stray id beside it pauses the card it names, only.
    client.post(url, {"target": unquote(token), "card_id": theirs.pk, "reason": "Fraud"})
    assert list(CollectionPause.objects.values_list("card_id", flat=True)) == [mine.pk]


def test_only_operations_may_pause_the_whole_book_and_only_after_typing_the_phrase():
    url = reverse("collection:pause_create")
    supervisor = _client(Role.SUPERVISOR)
    operations = _client(Role.OPERATIONS)

    assert (
        "Pause the whole book"
        not in supervisor.get(reverse("collection:pause_list")).content.decode()
    )
    [book_link] = _links(operations.get(reverse("collection:pause_list")))
    token = unquote(book_link.split("target=")[1])
    assert supervisor.get(book_link).status_code == 302
    supervisor.post(
        url, {"target": token, "reason": "Outage", "confirm_phrase": "PAUSE WHOLE BOOK"}
    )
    assert not CollectionPause.objects.exists()

    confirm = operations.get(book_link).content.decode()
    assert "Pause collection for the whole book" in confirm and "PAUSE WHOLE BOOK" in confirm
    unconfirmed = operations.post(url, {"target": token, "reason": "Outage"})
    assert (
        unconfirmed.status_code == 200 and "Type PAUSE WHOLE BOOK" in unconfirmed.content.decode()
    )
    assert not CollectionPause.objects.exists()

    operations.post(
        url, {"target": token, "reason": "Outage", "confirm_phrase": "PAUSE WHOLE BOOK"}
    )
    assert CollectionPause.objects.get().scope == "book"


def test_the_service_refuses_the_whole_book_without_operations_or_its_confirmation():
    supervisor = StaffUserFactory(role=Role.SUPERVISOR.value)
    operations = StaffUserFactory(role=Role.OPERATIONS.value)

    with pytest.raises(CollectionControlError, match="Only operations"):
        pause_collection(scope="book", reason="Outage", actor=supervisor, whole_book_confirmed=True)
    with pytest.raises(CollectionControlError, match="second confirmation"):
        pause_collection(scope="book", reason="Outage", actor=operations)
    assert not CollectionPause.objects.exists()

    pause_collection(scope="book", reason="Outage", actor=operations, whole_book_confirmed=True)
    assert CollectionPause.objects.get().paused_by == operations


def test_resume_confirms_the_card_and_customer_and_reports_back():
    card = _card_of("孙娟", "6222000000003231")
    operations = StaffUserFactory(role=Role.OPERATIONS.value)
    pause = pause_collection(scope="card", card=card, reason="Fraud", actor=operations)
    client = sign_in_verified(Client(), operations)
    url = reverse("collection:pause_resume", args=[pause.pk])

    confirm = client.get(url).content.decode()
    assert "Resume collection for card •••• 3231 of 孙娟" in confirm
    pause.refresh_from_db()
    assert pause.resumed_at is None

    done = client.post(url, {"reason": "Cleared"})
    pause.refresh_from_db()
    assert pause.resumed_at is not None
    assert "Collection resumed for card •••• 3231 of 孙娟." in " ".join(_messages(done))
