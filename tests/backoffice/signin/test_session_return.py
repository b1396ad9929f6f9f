"""An expired session returns the person to the page they were on, with a message; a
form sent from an ended session is not submitted and its page says so; ``next`` is
followed only to a same-site relative path."""

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from accounts.models import AuthenticatorDevice
from backoffice.signin.session import SESSION_LAST_SEEN_KEY
from backoffice.ui.redirects import safe_next_path
from debits.models import DebitRun
from tests.backoffice.signin.test_security import (
    current_code,
    enrolled_staff,
    sign_in_with_password,
)

pytestmark = pytest.mark.django_db


def _signed_in(client, role="operations"):
    user, device = enrolled_staff(role=role)
    response = sign_in_with_password(client, user)
    client.post(response["Location"], {"otp_token": current_code(device)})
    return user, device


def _end_session(client):
    session = client.session
    session[SESSION_LAST_SEEN_KEY] = time.time() - 24 * 3600
    session.save()


def _next_of(location: str) -> str:
    return parse_qs(urlsplit(location).query)["next"][0]


def _sign_in_again(client, user, device, location: str):
    """The person signs in on the page they were sent to; where do they land?"""
    login_page = client.get(location).content.decode()
    response = sign_in_with_password(client, user, next_url=_next_of(location))
    # Half an hour on, the app shows a new code; the test reuses this one's slot.
    AuthenticatorDevice.objects.filter(pk=device.pk).update(last_t=-1)
    landed = client.post(response["Location"], {"otp_token": current_code(device)})
    return login_page, landed


def test_an_expired_session_returns_to_the_page_after_signing_in_again(client):
    user, device = _signed_in(client)
    page = reverse("collection:attempt_list") + "?state=failed"
    _end_session(client)

    sent_away = client.get(page)
    assert sent_away.status_code == 302
    assert _next_of(sent_away["Location"]) == page

    login_page, landed = _sign_in_again(client, user, device, sent_away["Location"])
    assert "Your session ended" in login_page
    assert landed["Location"] == page
    assert client.get(page).status_code == 200


def test_a_form_sent_after_the_session_ended_returns_to_its_page_and_says_it_was_not_sent(
    client,
):
    user, device = _signed_in(client)
    page = reverse("collection:attempt_list") + "?state=failed"
    _end_session(client)

    sent = client.post(
        reverse("collection:retry_attempts"),
        {"attempt": ["1"]},
        HTTP_REFERER=f"http://testserver{page}",
    )
    assert sent.status_code == 302
    assert _next_of(sent["Location"]) == page  # the GET of the page, never the POST-only URL

    login_page, landed = _sign_in_again(client, user, device, sent["Location"])
    assert "was not submitted" in login_page
    assert landed["Location"] == page
    back = client.get(page)
    assert back.status_code == 200
    assert "the form you sent was not submitted" in back.content.decode()
    assert not DebitRun.objects.exists()


def test_a_form_from_another_site_is_returned_to_the_dashboard_not_to_that_site(client):
    _signed_in(client)
    _end_session(client)

    sent = client.post(
        reverse("collection:retry_attempts"), HTTP_REFERER="https://evil.example/debits/"
    )

    assert _next_of(sent["Location"]) == reverse("dashboard")


def test_a_page_script_polling_after_the_session_ended_returns_to_its_page():
    from django.test import Client

    client = Client()
    _signed_in(client)
    run = DebitRun.objects.create(run_date=time.strftime("%Y-%m-%d"))
    page = reverse("collection:run_detail", args=[run.pk])
    _end_session(client)

    polled = client.get(
        reverse("collection:run_progress", args=[run.pk]),
        HTTP_SEC_FETCH_DEST="empty",
        HTTP_REFERER=f"http://testserver{page}",
    )

    assert _next_of(polled["Location"]) == page


@pytest.mark.parametrize(
    ("candidate", "followed"),
    [
        ("/audit/?action=staff", "/audit/?action=staff"),
        ("http://testserver/audit/", ""),
        ("https://evil.example/x", ""),
        ("//evil.example/x", ""),
        ("/\\evil.example", ""),
        ("/ok\\..\\evil", ""),
        ("javascript:alert(1)", ""),
        ("audit/", ""),
        ("", ""),
    ],
)
def test_next_is_followed_only_to_a_same_site_relative_path(candidate, followed):
    assert safe_next_path(candidate) == followed


def test_an_absolute_next_on_this_host_is_not_followed_after_sign_in(client):
    user, device = enrolled_staff()
    response = sign_in_with_password(client, user, next_url="http://testserver/audit/")
    landed = client.post(response["Location"], {"otp_token": current_code(device)})
    assert landed["Location"] == reverse("dashboard")
