"""Staff-initiated password reset: identity check, single-use link, the customer's page."""

import logging
import re
import threading

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts import notifications
from accounts.card_passwords import card_password_matches
from accounts.models import (
    AuditEvent,
    Card,
    CardCredential,
    PasswordChange,
    PasswordResetRequest,
)
from accounts.roles import Role
from accounts.services import (
    ResetLinkInvalid,
    ResetNotAllowed,
    complete_password_reset,
    start_password_reset,
)
from tests.conftest import sign_in_verified
from tests.debit_helpers import eager_celery
from tests.factories import CardCredentialFactory, MandateFactory, StaffUserFactory

pytestmark = pytest.mark.django_db

__all__ = ["eager_celery"]

NEW_PASSWORD = "946381"
LINK = re.compile(r"https?://\S+/reset/(?P<token>[A-Za-z0-9_\-]+)/")


@pytest.fixture(autouse=True)
def recorded_notifications(settings, request):
    # Eager: the password-change notice leaves through its outbox task at commit.
    request.getfixturevalue("eager_celery")
    settings.NOTIFICATION_BACKEND = "accounts.notifications.RecordingNotificationBackend"
    notifications.outbox.clear()
    yield notifications.outbox
    notifications.outbox.clear()


@pytest.fixture
def agent(db):
    return StaffUserFactory(role=Role.AGENT)


@pytest.fixture
def supervisor(db):
    return StaffUserFactory(role=Role.SUPERVISOR)


def start_reset(card, actor, *, approved_by=None, kind=CardCredential.Kind.TRANSACTION):
    return start_password_reset(
        card=card,
        kind=kind,
        verification_method=PasswordResetRequest.VerificationMethod.BRANCH_ID_CHECK,
        verification_reference="BR-0042 ID seen",
        delivery_channel=PasswordResetRequest.DeliveryChannel.SMS,
        actor=actor,
        approved_by=approved_by,
    )


def token_sent(outbox) -> str:
    [message] = [m for m in outbox if m.topic == "password_reset_link"][-1:]
    return LINK.search(message.body)["token"]


def open_link_and_submit(client: Client, token: str, password=NEW_PASSWORD, confirmation=None):
    landing = client.get(f"/reset/{token}/")
    assert landing.status_code == 302 and landing["Location"] == "/reset/"
    page = client.get("/reset/")
    response = client.post(
        "/reset/", {"password": password, "confirmation": confirmation or password}
    )
    return page, response


def test_the_customer_sets_the_password_through_the_link_once(
    agent, recorded_notifications, django_capture_on_commit_callbacks
):
    credential = CardCredentialFactory()
    card = credential.card
    with django_capture_on_commit_callbacks(execute=True):
        reset = start_reset(card, agent)
    token = token_sent(recorded_notifications)
    assert recorded_notifications[0].recipient == card.customer.phone
    assert reset.token_fingerprint != token and token not in reset.token_fingerprint

    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    with django_capture_on_commit_callbacks(execute=True):
        page, done = open_link_and_submit(client, token)
    assert page.status_code == 200 and b"Set your card password" in page.content
    assert done.status_code == 200 and b"Your password was changed" in done.content

    card.refresh_from_db()
    credential.refresh_from_db()
    assert card.credential_version == 2
    assert card_password_matches(credential.password_hash, NEW_PASSWORD)
    change = PasswordChange.objects.get()
    assert change.channel == "staff_reset" and change.reset_request_id == reset.pk
    assert change.actor == agent, "the card page shows who started the reset"
    reset.refresh_from_db()
    assert reset.used_at is not None
    told = recorded_notifications[-1]
    assert told.topic == "password_changed"
    assert "automatic loan repayments continue" in told.body

    again = Client(HTTP_ACCEPT_LANGUAGE="en")
    again.get(f"/reset/{token}/")
    reused = again.get("/reset/")
    assert reused.status_code == 200
    assert b"already been used" in reused.content
    assert PasswordChange.objects.count() == 1


def test_an_expired_link_gets_a_clear_page_and_changes_nothing(agent, recorded_notifications):
    card = CardCredentialFactory().card
    with_link = start_reset(card, agent)
    PasswordResetRequest.objects.filter(pk=with_link.pk).update(
        created_at=timezone.now() - timezone.timedelta(hours=1),
        expires_at=timezone.now() - timezone.timedelta(minutes=1),
    )
    from accounts.services.card_credentials import reset_token_fingerprint

    token = "x" * 43
    PasswordResetRequest.objects.filter(pk=with_link.pk).update(
        token_fingerprint=reset_token_fingerprint(token)
    )
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.get(f"/reset/{token}/")
    response = client.post("/reset/", {"password": NEW_PASSWORD, "confirmation": NEW_PASSWORD})
    assert response.status_code == 200
    assert b"expired" in response.content
    assert not PasswordChange.objects.exists()


@pytest.mark.parametrize("token", ["forged", "A" * 43, "%2e%2e", "x" * 300])
def test_a_forged_link_gets_a_clear_page(token):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    landing = client.get(f"/reset/{token}/")
    assert landing.status_code == 302
    response = client.get("/reset/")
    assert response.status_code == 200
    assert b"not valid" in response.content


def test_the_reset_page_without_a_link_explains_itself():
    response = Client(HTTP_ACCEPT_LANGUAGE="en").get("/reset/")
    assert response.status_code == 200
    assert b"Open the link" in response.content


def test_a_password_the_policy_refuses_is_explained_and_the_link_stays_usable(
    agent, recorded_notifications, django_capture_on_commit_callbacks
):
    card = CardCredentialFactory().card
    with django_capture_on_commit_callbacks(execute=True):
        start_reset(card, agent)
    token = token_sent(recorded_notifications)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    _, refused = open_link_and_submit(client, token, password="123456")
    assert b"run of consecutive digits" in refused.content
    mismatch = client.post("/reset/", {"password": NEW_PASSWORD, "confirmation": "480928"})
    assert b"do not match" in mismatch.content
    done = client.post("/reset/", {"password": NEW_PASSWORD, "confirmation": NEW_PASSWORD})
    assert b"Your password was changed" in done.content


def test_a_double_submit_changes_the_password_once(
    agent, recorded_notifications, django_capture_on_commit_callbacks
):
    card = CardCredentialFactory().card
    with django_capture_on_commit_callbacks(execute=True):
        start_reset(card, agent)
    token = token_sent(recorded_notifications)
    complete_password_reset(token=token, new_password=NEW_PASSWORD)
    with pytest.raises(ResetLinkInvalid) as second:
        complete_password_reset(token=token, new_password="902716")
    assert second.value.reason == "used"
    assert PasswordChange.objects.count() == 1


def test_a_new_reset_replaces_the_open_link(
    agent, recorded_notifications, django_capture_on_commit_callbacks
):
    card = CardCredentialFactory().card
    with django_capture_on_commit_callbacks(execute=True):
        start_reset(card, agent)
    first = token_sent(recorded_notifications)
    with django_capture_on_commit_callbacks(execute=True):
        start_reset(card, agent)
    with pytest.raises(ResetLinkInvalid) as replaced:
        complete_password_reset(token=first, new_password=NEW_PASSWORD)
    assert replaced.value.reason == "cancelled"
    complete_password_reset(token=token_sent(recorded_notifications), new_password=NEW_PASSWORD)


@pytest.mark.parametrize("status", [Card.Status.LOCKED, Card.Status.CLOSED])
def test_a_locked_or_closed_card_needs_a_supervisor(agent, supervisor, status):
    card = CardCredentialFactory(card__status=status).card
    with pytest.raises(ResetNotAllowed, match="supervisor"):
        start_reset(card, agent)
    with pytest.raises(ResetNotAllowed):
        start_reset(card, agent, approved_by=StaffUserFactory(role=Role.AGENT))
    reset = start_reset(card, agent, approved_by=supervisor)
    assert reset.approved_by == supervisor


def test_a_locked_password_needs_a_supervisor(agent, supervisor):
    credential = CardCredentialFactory(locked_at=timezone.now(), failed_attempts=5)
    with pytest.raises(ResetNotAllowed):
        start_reset(credential.card, agent)
    assert start_reset(credential.card, supervisor, approved_by=supervisor)


def test_staff_without_the_permission_cannot_start_a_reset():
    card = CardCredentialFactory().card
    with pytest.raises(ResetNotAllowed):
        start_reset(card, StaffUserFactory(role=Role.OPERATIONS))


def test_an_agent_starts_a_reset_from_the_card_page_and_never_sees_the_password(
    agent, recorded_notifications, django_capture_on_commit_callbacks, caplog
):
    caplog.set_level(logging.DEBUG)
    mandate = MandateFactory()
    card = mandate.card
    CardCredentialFactory(card=card)
    staff = sign_in_verified(Client(HTTP_ACCEPT_LANGUAGE="en"), agent)
    card_page = f"/debits/cards/{card.pk}/"
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(
            f"/cards/{card.pk}/password-reset/",
            {
                "kind": "transaction",
                "verification_method": "video_call",
                "verification_reference": "VC-20261126-7",
                "delivery_channel": "sms",
                "next": card_page,
            },
            follow=True,
        )
    assert response.status_code == 200
    assert b"single-use reset link was sent" in response.content
    token = token_sent(recorded_notifications)

    from backoffice.celery import app

    customer = Client(HTTP_ACCEPT_LANGUAGE="en")
    eager_before = app.conf.task_always_eager
    app.conf.task_always_eager = True  # the re-sync runs in-process, its logs captured too
    try:
        with django_capture_on_commit_callbacks(execute=True):
            open_link_and_submit(customer, token)
    finally:
        app.conf.task_always_eager = eager_before
    mandate.refresh_from_db()
    assert mandate.synced_credential_version == 2

    pages = [
        staff.get(card_page),
        staff.get(f"/customers/{card.customer_id}/"),
    ]
    admin_user = StaffUserFactory(is_superuser=True)
    admin = sign_in_verified(Client(HTTP_ACCEPT_LANGUAGE="en"), admin_user)
    reset = PasswordResetRequest.objects.get()
    credential = CardCredential.objects.get(card=card, kind="transaction")
    pages += [
        admin.get(f"/admin/accounts/card/{card.pk}/change/"),
        admin.get(f"/admin/accounts/passwordresetrequest/{reset.pk}/change/"),
        admin.get("/admin/accounts/passwordresetrequest/"),
        admin.get("/admin/accounts/passwordchange/"),
        admin.get("/admin/accounts/auditevent/"),
    ]
    for page in pages:
        assert page.status_code == 200, page
        body = page.content.decode()
        assert NEW_PASSWORD not in body
        assert token not in body
        assert reset.token_fingerprint not in body
        assert credential.password_hash not in body
        assert 'name="password"' not in body
    assert "Credential version" in pages[0].content.decode()

    staff_messages = [m for m in recorded_notifications if m.recipient == agent.email]
    assert staff_messages == []
    for message in recorded_notifications:
        assert NEW_PASSWORD not in message.body
    assert all(
        NEW_PASSWORD not in str(event.summary) and token not in str(event.summary)
        for event in AuditEvent.objects.all()
    )
    assert NEW_PASSWORD not in caplog.text
    assert token not in caplog.text


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_submits_of_one_link_change_the_password_once(
    recorded_notifications, django_capture_on_commit_callbacks
):
    # Role groups come from a data migration that a transactional test's flush
    # removes; a superuser holds the permission without them.
    agent = StaffUserFactory(is_superuser=True)
    card = CardCredentialFactory().card
    start_reset(card, agent)
    token = token_sent(recorded_notifications)
    barrier = threading.Barrier(3)
    outcomes: list[str] = []

    def submit(password):
        try:
            barrier.wait()
            complete_password_reset(token=token, new_password=password)
            outcomes.append("changed")
        except ResetLinkInvalid as exc:
            outcomes.append(exc.reason)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(p,)) for p in ("946381", "902716", "384917")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["changed", "used", "used"]
    assert PasswordChange.objects.filter(card=card).count() == 1
    assert Card.objects.get(pk=card.pk).credential_version == 2


def test_the_admin_action_asks_for_the_identity_check_then_sends_the_link(
    agent, recorded_notifications, django_capture_on_commit_callbacks
):
    card = CardCredentialFactory().card
    staff = sign_in_verified(Client(HTTP_ACCEPT_LANGUAGE="en"), agent)
    changelist = "/admin/accounts/card/"
    step = staff.post(
        changelist, {"action": "start_password_reset_action", "_selected_action": [card.pk]}
    )
    assert step.status_code == 200
    assert b"Verification reference" in step.content
    assert not PasswordResetRequest.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        done = staff.post(
            changelist,
            {
                "action": "start_password_reset_action",
                "_selected_action": [card.pk],
                "apply": "1",
                "kind": "transaction",
                "verification_method": "sms_otp",
                "verification_reference": "OTP-5521",
                "delivery_channel": "sms",
            },
        )
    assert done.status_code == 302
    reset = PasswordResetRequest.objects.get()
    assert reset.requested_by == agent and reset.verification_method == "sms_otp"
    assert token_sent(recorded_notifications)


def test_the_admin_action_refuses_a_locked_card_without_a_supervisor(agent):
    card = CardCredentialFactory(card__status=Card.Status.LOCKED).card
    staff = sign_in_verified(Client(HTTP_ACCEPT_LANGUAGE="en"), agent)
    response = staff.post(
        "/admin/accounts/card/",
        {
            "action": "start_password_reset_action",
            "_selected_action": [card.pk],
            "apply": "1",
            "kind": "transaction",
            "verification_method": "branch_id_check",
            "verification_reference": "BR-1",
            "delivery_channel": "sms",
        },
    )
    assert response.status_code == 200
    assert b"supervisor must approve" in response.content
    assert not PasswordResetRequest.objects.exists()
