"""Role grants, re-enabling and staff password resets need a second person."""

import pytest
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse

from accounts import notifications
from accounts.models import AuditEvent, StaffChangeRequest, StaffPasswordReset
from accounts.services import (
    approve_staff_change,
    change_staff_password,
    complete_staff_password_reset,
    reject_staff_change,
    request_staff_change,
    set_staff_active,
)
from accounts.services.staff_grants import StaffChangeRefused
from accounts.services.staff_security import StaffSecurityError
from tests.conftest import sign_in_verified
from tests.factories import STAFF_PASSWORD, StaffUserFactory

pytestmark = pytest.mark.django_db

GRANT = StaffChangeRequest.Kind.GRANT_ROLE
REASON = "Joins the supervisors' rota from Monday"


@pytest.fixture
def admins():
    return StaffUserFactory(role="admin"), StaffUserFactory(role="admin")


@pytest.fixture
def newcomer():
    return StaffUserFactory(role="agent")


def _roles(user) -> set[str]:
    return set(user.groups.values_list("name", flat=True))


def test_a_role_is_granted_only_when_a_second_person_approves(admins, newcomer):
    maker, checker = admins
    change = request_staff_change(
        staff=newcomer, kind=GRANT, role="supervisor", actor=maker, reason=REASON
    )
    assert _roles(newcomer) == {"agent"}
    approve_staff_change(change_request=change, approver=checker)
    assert _roles(newcomer) == {"agent", "supervisor"}
    change.refresh_from_db()
    assert (change.state, change.decided_by) == ("approved", checker)
    actions = list(AuditEvent.objects.order_by("id").values_list("action", "actor"))
    assert ("staff_change.requested", maker.pk) in actions
    assert ("staff_change.approved", checker.pk) in actions


def test_a_supervisor_may_approve_a_grant(admins, newcomer):
    change = request_staff_change(
        staff=newcomer, kind=GRANT, role="auditor", actor=admins[0], reason=REASON
    )
    approve_staff_change(change_request=change, approver=StaffUserFactory(role="supervisor"))
    assert "auditor" in _roles(newcomer)


def test_the_requester_cannot_approve_their_own_grant(admins, newcomer):
    maker, _ = admins
    change = request_staff_change(
        staff=newcomer, kind=GRANT, role="supervisor", actor=maker, reason=REASON
    )
    with pytest.raises(StaffChangeRefused, match="second person"):
        approve_staff_change(change_request=change, approver=maker)
    assert _roles(newcomer) == {"agent"}


def test_the_database_refuses_a_grant_decided_by_its_requester(admins, newcomer):
    from django.utils import timezone

    maker, _ = admins
    change = request_staff_change(
        staff=newcomer, kind=GRANT, role="supervisor", actor=maker, reason=REASON
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        StaffChangeRequest.objects.filter(pk=change.pk).update(
            state="approved", decided_by=maker, decided_at=timezone.now()
        )


def test_nobody_asks_for_or_decides_a_change_to_their_own_access(admins):
    maker, checker = admins
    with pytest.raises(StaffChangeRefused):
        request_staff_change(staff=maker, kind=GRANT, role="auditor", actor=maker, reason=REASON)
    change = request_staff_change(
        staff=checker, kind=GRANT, role="auditor", actor=maker, reason=REASON
    )
    with pytest.raises(StaffChangeRefused):
        approve_staff_change(change_request=change, approver=checker)


def test_a_rejected_grant_changes_nothing(admins, newcomer):
    change = request_staff_change(
        staff=newcomer, kind=GRANT, role="supervisor", actor=admins[0], reason=REASON
    )
    reject_staff_change(change_request=change, approver=admins[1], reason="Not on the rota")
    assert _roles(newcomer) == {"agent"}
    with pytest.raises(StaffChangeRefused, match="already been decided"):
        approve_staff_change(change_request=change, approver=admins[1])


def test_roles_without_the_permission_can_neither_ask_nor_decide(newcomer):
    supervisor = StaffUserFactory(role="supervisor")
    with pytest.raises(StaffChangeRefused):
        request_staff_change(
            staff=newcomer, kind=GRANT, role="auditor", actor=supervisor, reason=REASON
        )


def test_re_enabling_an_account_needs_an_approved_request(admins):
    maker, checker = admins
    leaver = StaffUserFactory(role="agent")
    set_staff_active(staff=leaver, actor=maker, active=False, reason="Left the bank")
    with pytest.raises(StaffSecurityError, match="second person"):
        set_staff_active(staff=leaver, actor=maker, active=True, reason="Came back")
    change = request_staff_change(
        staff=leaver,
        kind=StaffChangeRequest.Kind.REACTIVATE,
        actor=maker,
        reason="Came back from leave",
    )
    leaver.refresh_from_db()
    assert not leaver.is_active
    approve_staff_change(change_request=change, approver=checker)
    leaver.refresh_from_db()
    assert leaver.is_active


def test_a_staff_password_cannot_be_set_by_another_person(admins, newcomer):
    with pytest.raises(StaffSecurityError, match="another person's password"):
        change_staff_password(
            staff=newcomer, actor=admins[0], new_password="a much better passphrase 7"
        )
    newcomer.refresh_from_db()
    assert newcomer.check_password(STAFF_PASSWORD)


def test_the_admin_cannot_set_another_persons_password_in_the_admin(newcomer):
    admin = sign_in_verified(Client(), StaffUserFactory(role="admin"))
    url = reverse("admin:auth_user_password_change", args=[newcomer.pk])
    assert admin.get(url).status_code == 403
    response = admin.post(
        url,
        {
            "password1": "a much better passphrase 7",
            "password2": "a much better passphrase 7",
            "usable_password": "true",
        },
    )
    assert response.status_code == 403
    newcomer.refresh_from_db()
    assert newcomer.check_password(STAFF_PASSWORD)


def test_the_admin_cannot_grant_a_role_or_superuser_in_the_admin_form(newcomer):
    from django.contrib.auth.models import Group

    admin = sign_in_verified(Client(), StaffUserFactory(role="admin"))
    url = reverse("admin:accounts_staffuser_change", args=[newcomer.pk])
    page = admin.get(url)
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {name: form.initial.get(name) or "" for name in form.fields}
    data.update(
        username=newcomer.username,
        groups=[Group.objects.get(name="supervisor").pk],
        is_superuser="on",
        is_active="on",
    )
    admin.post(url, {k: v for k, v in data.items() if v is not None})
    newcomer.refresh_from_db()
    assert _roles(newcomer) == {"agent"}
    assert not newcomer.is_superuser


def test_an_approved_reset_sends_its_owner_a_single_use_link_and_ends_their_sessions(
    admins, newcomer, settings, django_capture_on_commit_callbacks
):
    import re

    settings.NOTIFICATION_BACKEND = "accounts.notifications.RecordingNotificationBackend"
    notifications.outbox.clear()
    their_session = sign_in_verified(Client(), newcomer)
    change = request_staff_change(
        staff=newcomer,
        kind=StaffChangeRequest.Kind.RESET_PASSWORD,
        actor=admins[0],
        reason="Forgot it, identity checked at the desk",
    )
    with django_capture_on_commit_callbacks(execute=True):
        approve_staff_change(change_request=change, approver=admins[1])
    assert their_session.get("/").status_code == 302
    newcomer.refresh_from_db()
    assert not newcomer.has_usable_password()
    (message,) = notifications.outbox
    assert message.recipient == newcomer.email
    path = re.search(r"https://\S+?(/staff/password-reset/[^/\s]+/)", message.body)
    link = path[1] if path else re.search(r"(/staff/password-reset/[^/\s]+/)", message.body)[1]

    browser = Client()
    landing = browser.get(link)
    assert landing.status_code == 302
    assert landing["Location"] == reverse("signin:staff_password_reset_form")
    done = browser.post(
        landing["Location"],
        {"password": "my own new passphrase 9", "confirmation": "my own new passphrase 9"},
    )
    assert done.status_code == 302
    newcomer.refresh_from_db()
    assert newcomer.check_password("my own new passphrase 9")
    assert StaffPasswordReset.objects.get().used_at is not None
    again = Client()
    again.get(link)
    page = again.get(reverse("signin:staff_password_reset_form"))
    assert b"not valid" in page.content
    event = AuditEvent.objects.get(action="staff.password_reset_completed")
    assert event.actor == newcomer


def test_a_reset_link_token_is_not_a_password_an_admin_could_use(admins, newcomer):
    change = request_staff_change(
        staff=newcomer,
        kind=StaffChangeRequest.Kind.RESET_PASSWORD,
        actor=admins[0],
        reason="Forgot it, identity checked at the desk",
    )
    approve_staff_change(change_request=change, approver=admins[1])
    from accounts.services.staff_grants import StaffResetLinkInvalid

    with pytest.raises(StaffResetLinkInvalid):
        complete_staff_password_reset(
            token_fingerprint=StaffPasswordReset.objects.get().token_fingerprint[:10],
            new_password="my own new passphrase 9",
        )


# --- The pages ------------------------------------------------------------------------


def test_the_requester_gets_403_when_approving_their_own_grant_on_the_page(newcomer):
    maker = StaffUserFactory(role="admin")
    client = sign_in_verified(Client(), maker)
    asked = client.post(
        reverse("signin:ask_for_staff_change", args=[newcomer.pk]),
        {"kind": GRANT, "role": "supervisor", "reason": REASON},
    )
    assert asked.status_code == 302
    change = StaffChangeRequest.objects.get()
    response = client.post(
        reverse("signin:decide_staff_change", args=[change.pk]), {"decision": "approve"}
    )
    assert response.status_code == 403
    assert _roles(newcomer) == {"agent"}

    checker = sign_in_verified(Client(), StaffUserFactory(role="supervisor"))
    listing = checker.get(reverse("signin:staff_changes"))
    assert newcomer.username.encode() in listing.content
    checker.post(reverse("signin:decide_staff_change", args=[change.pk]), {"decision": "approve"})
    assert _roles(newcomer) == {"agent", "supervisor"}


def test_a_new_account_made_in_the_admin_has_no_password_and_no_role():
    from accounts.models import StaffUser

    admin = sign_in_verified(Client(), StaffUserFactory(role="admin"))
    response = admin.post(
        reverse("admin:accounts_staffuser_add"),
        {"username": "new.colleague", "email": "new.colleague@bank.example"},
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    created = StaffUser.objects.get(username="new.colleague")
    assert not created.has_usable_password()
    assert not created.groups.exists() and not created.is_superuser
