"""A reset link the notification gateway refuses: the change stands, the failure is
recorded and staff read what happened, never a server error.

The views run with no transaction around them, as in production, so the link is
sent when the service's own transaction commits, inside the request.
"""

import socket

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from accounts.models import AuditEvent, PasswordResetRequest, StaffChangeRequest
from accounts.services import request_staff_change
from tests.conftest import sign_in_verified
from tests.factories import CardCredentialFactory, StaffUserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def gateway_down(settings):
    """The real HTTP backend, aimed at a port where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.NOTIFICATION_BACKEND = "accounts.notifications.HttpNotificationBackend"
    settings.NOTIFICATION_GATEWAY_URL = f"http://127.0.0.1:{port}/messages"
    settings.NOTIFICATION_GATEWAY_TIMEOUT_SECONDS = 2


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_an_approved_staff_reset_whose_link_is_refused_says_so_and_records_it(gateway_down):
    maker, checker = StaffUserFactory(role="admin"), StaffUserFactory(role="admin")
    newcomer = StaffUserFactory(role="agent")
    change = request_staff_change(
        staff=newcomer,
        kind=StaffChangeRequest.Kind.RESET_PASSWORD,
        actor=maker,
        reason="Forgot it, identity checked at the desk",
    )
    client = sign_in_verified(Client(HTTP_ACCEPT_LANGUAGE="en"), checker)

    response = client.post(
        reverse("signin:decide_staff_change", kwargs={"pk": change.pk}),
        {"decision": "approve", "reason": ""},
    )

    assert response.status_code == 302
    [text] = _messages(response)
    assert "did not accept the reset link" in text and newcomer.username in text
    change.refresh_from_db()
    newcomer.refresh_from_db()
    assert change.state == StaffChangeRequest.State.APPROVED
    assert not newcomer.has_usable_password()
    event = AuditEvent.objects.get(action="notification.link_not_sent")
    assert event.actor == checker
    assert event.summary["topic"] == "staff_password_reset_link"
    assert newcomer.email not in str(event.summary)


def test_a_card_reset_whose_link_is_refused_says_nothing_was_sent(gateway_down):
    agent = StaffUserFactory(role="agent")
    card = CardCredentialFactory().card
    client = sign_in_verified(Client(HTTP_ACCEPT_LANGUAGE="en"), agent)

    response = client.post(
        f"/cards/{card.pk}/password-reset/",
        {
            "kind": "transaction",
            "verification_method": "video_call",
            "verification_reference": "VC-20261201-3",
            "delivery_channel": "sms",
        },
    )

    assert response.status_code == 302
    [text] = _messages(response)
    assert "nothing was sent to the customer" in text
    reset = PasswordResetRequest.objects.get(card=card)
    event = AuditEvent.objects.get(action="notification.link_not_sent")
    assert (event.actor, event.object_id) == (agent, str(reset.pk))
    assert card.customer.phone not in str(event.summary)
