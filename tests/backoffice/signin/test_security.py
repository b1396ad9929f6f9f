"""Staff sign-in, second factor, lockout, sessions, CSRF, escaping, redirects, headers."""

import time

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp

from accounts.audit_actions import AuditAction
from accounts.models import AuditEvent, AuthenticatorDevice, BackupCodeDevice, StaffUser
from accounts.services import (
    change_staff_password,
    reset_staff_second_factor,
    set_staff_active,
    unlock_staff,
)
from backoffice.signin.session import (
    SECOND_FACTOR_EXEMPT_PATH_PREFIXES,
    SECOND_FACTOR_EXEMPT_URL_NAMES,
    SESSION_LAST_SEEN_KEY,
    SESSION_LAST_SEEN_RESOLUTION_SECONDS,
    SESSION_STARTED_KEY,
)
from tests.backoffice.test_access_matrix import all_url_patterns, row_for, world  # noqa: F401
from tests.conftest import sign_in_verified
from tests.factories import STAFF_PASSWORD, CustomerFactory, StaffUserFactory

pytestmark = pytest.mark.django_db

EVIL = "https://evil.example/steal"


def current_code(device: AuthenticatorDevice, *, offset: int = 0) -> str:
    code = totp(device.bin_key, device.step, device.t0 + offset * device.step, device.digits)
    return f"{code:0{device.digits}d}"


def wrong_code(device: AuthenticatorDevice) -> str:
    right = {current_code(device, offset=o) for o in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in right)


def enrolled_staff(**fields) -> tuple[StaffUser, AuthenticatorDevice]:
    user = StaffUserFactory(**fields)
    device = AuthenticatorDevice.objects.create(user=user, name="Authenticator app", confirmed=True)
    return user, device


def sign_in_with_password(client, user, *, next_url: str = ""):
    data = {"username": user.username, "password": STAFF_PASSWORD}
    if next_url:
        data["next"] = next_url
    return client.post(reverse("login"), data)


# --- Mandatory second factor -----------------------------------------------------


def test_a_password_alone_reaches_no_staff_page(client):
    user, _ = enrolled_staff(is_superuser=True)
    response = sign_in_with_password(client, user)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("signin:verify"))
    for path in ("/", reverse("audit:trail"), "/admin/", "/admin/accounts/customer/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith(reverse("signin:verify")), path


def test_signing_in_with_password_and_code_reaches_the_dashboard(client):
    user, device = enrolled_staff()
    sign_in_with_password(client, user)
    response = client.post(reverse("signin:verify"), {"otp_token": current_code(device)})
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    assert client.get("/").status_code == 200
    assert AuditEvent.objects.filter(action="staff.second_factor_verified").exists()


def test_staff_without_a_factor_reach_only_enrolment_then_enrol_with_a_qr_code(client):
    user = StaffUserFactory()
    response = sign_in_with_password(client, user)
    assert response["Location"].startswith(reverse("signin:enrol"))
    for path in ("/", "/admin/", reverse("signin:verify")):
        response = client.get(path, follow=True)
        assert response.redirect_chain[-1][0].startswith(reverse("signin:enrol")), path
    page = client.get(reverse("signin:enrol"))
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]
    assert b'src="data:image/svg+xml' in page.content
    device = AuthenticatorDevice.objects.get(user=user, confirmed=False)

    done = client.post(reverse("signin:enrol"), {"otp_token": current_code(device)})

    assert done.status_code == 200
    codes = done.context["backup_codes"]
    assert len(codes) == 10
    for code in codes:
        assert code.encode() in done.content
    device.refresh_from_db()
    assert device.confirmed
    assert client.get("/").status_code == 200
    # Shown once: the page now only redirects, the secret is not shown again.
    again = client.get(reverse("signin:enrol"))
    assert again.status_code == 302
    assert AuditEvent.objects.filter(action="staff.second_factor_enrolled").count() == 1


def test_reloading_enrolment_replaces_the_secret_that_was_shown(client):
    user = StaffUserFactory()
    sign_in_with_password(client, user)
    client.get(reverse("signin:enrol"))
    first = AuthenticatorDevice.objects.get(user=user)
    client.get(reverse("signin:enrol"))
    assert not AuthenticatorDevice.objects.filter(pk=first.pk).exists()
    assert AuthenticatorDevice.objects.filter(user=user, confirmed=False).count() == 1


def test_a_backup_code_signs_in_once(client):
    user, _ = enrolled_staff()
    backup = BackupCodeDevice.objects.create(user=user, name="Backup codes", confirmed=True)
    backup.add_codes(["abcdef1234"])
    sign_in_with_password(client, user)
    assert client.post(reverse("signin:verify"), {"otp_token": "abcdef1234"}).status_code == 302
    assert client.get("/").status_code == 200

    other = Client()
    sign_in_with_password(other, user)
    response = other.post(reverse("signin:verify"), {"otp_token": "abcdef1234"})
    assert response.status_code == 200
    assert b"not valid" in response.content


def test_the_second_factor_exemptions_are_exactly_these():
    assert {
        "login",
        "logout",
        "set_language",
        "signin:verify",
        "signin:enrol",
    } == SECOND_FACTOR_EXEMPT_URL_NAMES
    assert SECOND_FACTOR_EXEMPT_PATH_PREFIXES == ("/static/", "/reset/", "/staff/password-reset/")


def test_an_unverified_session_reaches_the_exempt_pages_and_nothing_else(client, world):  # noqa: F811
    user, _ = enrolled_staff(is_superuser=True)
    sign_in_with_password(client, user)
    verify = reverse("signin:verify")
    exempt_paths = {reverse(name) for name in SECOND_FACTOR_EXEMPT_URL_NAMES} | {
        "/reset/",
        "/static/backoffice/app.css",
    }
    # Sign-out is POST only; enrolment itself sends an enrolled person on to the code step.
    for path in sorted(exempt_paths - {reverse("logout"), reverse("signin:enrol")}):
        response = client.get(path)
        assert not (response.status_code == 302 and response["Location"].startswith(verify)), path
    redirected = []
    for pattern in all_url_patterns():
        row = row_for(pattern.name) if pattern.name else None
        if row is None or pattern.name in SECOND_FACTOR_EXEMPT_URL_NAMES or row.public:
            continue
        kwargs = row.kwargs(world) if row.kwargs else {}
        if kwargs is None:
            continue
        path = reverse(pattern.name, kwargs=kwargs)
        response = client.get(path)
        if not (response.status_code == 302 and response["Location"].startswith(verify)):
            redirected.append(f"{path}: {response.status_code}")
    assert not redirected, "reachable without a second factor:\n" + "\n".join(redirected)


# --- Lockout ---------------------------------------------------------------------


def test_five_failures_including_wrong_codes_lock_the_login(client):
    user, device = enrolled_staff()
    for _ in range(3):
        bad = client.post(reverse("login"), {"username": user.username, "password": "wrong!"})
        assert bad.status_code == 200
    sign_in_with_password(client, user)
    assert (
        client.post(reverse("signin:verify"), {"otp_token": wrong_code(device)}).status_code == 200
    )
    locked = client.post(reverse("signin:verify"), {"otp_token": wrong_code(device)})
    assert locked.status_code == 429
    assert b"Sign-in locked" in locked.content
    # The session was ended, and even the right password is refused now.
    assert client.get("/").status_code == 302
    assert sign_in_with_password(client, user).status_code == 429


def test_a_supervisor_unlocks_a_locked_login_and_it_is_audited(client):
    user, device = enrolled_staff()
    for _ in range(5):
        client.post(reverse("login"), {"username": user.username, "password": "wrong!"})
    assert sign_in_with_password(client, user).status_code == 429

    supervisor = sign_in_verified(Client(), StaffUserFactory(role="supervisor"))
    page = supervisor.get(reverse("signin:locked_staff"))
    assert user.username.encode() in page.content
    response = supervisor.post(
        reverse("signin:locked_staff"),
        {"username": user.username, "reason": "Called the service desk, identity checked"},
    )
    assert response.status_code == 302

    assert sign_in_with_password(client, user).status_code == 302
    event = AuditEvent.objects.get(action="staff.unlocked")
    assert event.summary["username"] == user.username
    assert "identity checked" in event.reason


def test_an_agent_cannot_unlock(client):
    agent = StaffUserFactory(role="agent")
    with pytest.raises(Exception, match="may not"):
        unlock_staff(username="someone", actor=agent, reason="no reason at all")


# --- Sessions --------------------------------------------------------------------


def _age_session(client, *, started_ago: float = 0, idle_for: float = 0):
    session = client.session
    now = time.time()
    session[SESSION_STARTED_KEY] = now - started_ago
    session[SESSION_LAST_SEEN_KEY] = now - idle_for
    session.save()


def test_a_session_ends_after_thirty_minutes_idle(client):
    sign_in_verified(client, StaffUserFactory())
    _age_session(client, started_ago=3600, idle_for=settings.SESSION_COOKIE_AGE - 60)
    assert client.get("/").status_code == 200
    _age_session(client, started_ago=3600, idle_for=settings.SESSION_COOKIE_AGE + 1)
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert client.get("/").status_code == 302  # signed out for good


def test_a_session_ends_after_twelve_hours_however_active(client):
    assert settings.SESSION_ABSOLUTE_SECONDS == 12 * 60 * 60
    sign_in_verified(client, StaffUserFactory())
    _age_session(client, started_ago=settings.SESSION_ABSOLUTE_SECONDS - 60)
    assert client.get("/").status_code == 200
    _age_session(client, started_ago=settings.SESSION_ABSOLUTE_SECONDS + 1)
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def _session_writes(client) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/").status_code == 200
    return sum('UPDATE "django_session"' in q["sql"] for q in captured.captured_queries)


def test_the_idle_clock_is_written_once_a_minute_not_on_every_request(client):
    assert settings.SESSION_COOKIE_AGE == 30 * 60
    sign_in_verified(client, StaffUserFactory())
    _age_session(client, started_ago=600, idle_for=5)
    before = client.session[SESSION_LAST_SEEN_KEY]

    assert _session_writes(client) == 0, "a request within the minute writes nothing"
    assert client.session[SESSION_LAST_SEEN_KEY] == before

    _age_session(client, started_ago=600, idle_for=SESSION_LAST_SEEN_RESOLUTION_SECONDS + 1)
    assert _session_writes(client) == 1
    assert time.time() - client.session[SESSION_LAST_SEEN_KEY] < 5
    expiry = client.session.get_expiry_date()
    assert expiry.timestamp() - time.time() > settings.SESSION_COOKIE_AGE - 5


@pytest.mark.parametrize("change", ["password", "second_factor_reset", "disabled"])
def test_every_session_ends_when_password_factor_or_account_changes(change):
    user, _ = enrolled_staff()
    admin = StaffUserFactory(role="admin")
    laptop = sign_in_verified(Client(), user)
    phone = sign_in_verified(Client(), user)
    assert laptop.get("/").status_code == 200
    assert phone.get("/").status_code == 200

    if change == "password":
        change_staff_password(staff=user, actor=user, new_password="a much better passphrase 7")
    elif change == "second_factor_reset":
        reset_staff_second_factor(staff=user, actor=admin, reason="Lost phone, ticket 4711")
    else:
        set_staff_active(staff=user, actor=admin, active=False, reason="Left the bank")

    for client in (laptop, phone):
        response = client.get("/")
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_resetting_a_factor_is_audited_and_forces_enrolment(client):
    user, _ = enrolled_staff()
    admin = sign_in_verified(Client(), StaffUserFactory(role="admin"))
    page = admin.get(reverse("signin:reset_second_factor", args=[user.pk]))
    assert page.status_code == 200
    response = admin.post(
        reverse("signin:reset_second_factor", args=[user.pk]),
        {"reason": "Lost phone, identity checked in person"},
    )
    assert response.status_code == 302
    assert not AuthenticatorDevice.objects.filter(user=user).exists()
    event = AuditEvent.objects.get(action="staff.second_factor_reset")
    assert event.object_id == str(user.pk)
    assert sign_in_with_password(client, user)["Location"].startswith(reverse("signin:enrol"))


# --- Redirects, CSRF, escaping ------------------------------------------------------


@pytest.mark.parametrize("target", [EVIL, "//evil.example/x", "https:/\\evil.example"])
def test_there_is_no_open_redirect_after_sign_in(client, target):
    user, device = enrolled_staff()
    response = sign_in_with_password(client, user, next_url=target)
    assert "evil.example" not in response["Location"]
    response = client.post(
        reverse("signin:verify") + "?next=" + target, {"otp_token": current_code(device)}
    )
    assert response.status_code == 302
    assert "evil.example" not in response["Location"]


def test_a_local_next_survives_both_steps(client):
    user, device = enrolled_staff(role="auditor")
    response = sign_in_with_password(client, user, next_url="/audit/?action=staff")
    response = client.post(response["Location"], {"otp_token": current_code(device)})
    assert response["Location"] == "/audit/?action=staff"


def test_every_post_without_a_csrf_token_is_refused(world):  # noqa: F811
    superuser = StaffUserFactory(is_superuser=True)
    accepted = []
    for signed_in in (True, False):
        for pattern in all_url_patterns():
            row = row_for(pattern.name) if pattern.name else None
            if row is None:
                continue
            kwargs = row.kwargs(world) if row.kwargs else {}
            if kwargs is None:
                continue
            client = Client(enforce_csrf_checks=True)
            if signed_in:
                sign_in_verified(client, superuser)
            path = reverse(pattern.name, kwargs=kwargs)
            response = client.post(path, {"reason": "x" * 20})
            if response.status_code != 403 or b"CSRF" not in response.content:
                accepted.append(f"{path} signed_in={signed_in}: {response.status_code}")
    assert not accepted, "POST accepted without a CSRF token:\n" + "\n".join(accepted)


SCRIPT = '<script>alert("x")</script>'


def test_text_staff_and_customers_enter_is_escaped_on_every_page(world):  # noqa: F811
    from accounts.audit import record_audit_event

    hostile = CustomerFactory(full_name=SCRIPT)
    world.customer.full_name = SCRIPT
    world.customer.save(update_fields=["full_name"])
    admin_user = StaffUserFactory(is_superuser=True, first_name=SCRIPT, last_name=SCRIPT)
    record_audit_event(
        actor=admin_user,
        action=AuditAction.CUSTOMER_PHONE_REVEALED,
        target=hostile,
        reason=SCRIPT,
        summary={"note": SCRIPT},
    )
    client = sign_in_verified(Client(), admin_user)
    unescaped = []
    pages = 0
    for pattern in all_url_patterns():
        row = row_for(pattern.name) if pattern.name else None
        if row is None or row.method != "get":
            continue
        kwargs = row.kwargs(world) if row.kwargs else {}
        if kwargs is None:
            continue
        path = reverse(pattern.name, kwargs=kwargs)
        query = "?q=" + SCRIPT if pattern.name == "customers:customer_search" else ""
        response = client.get(path + query)
        pages += 1
        body = b"".join(response.streaming_content) if response.streaming else response.content
        if SCRIPT.encode() in body:
            unescaped.append(path)
    for path in (
        reverse("admin:accounts_customer_changelist") + "?q=" + SCRIPT,
        reverse("admin:accounts_auditevent_changelist"),
        reverse("customers:reveal_phone", args=[hostile.pk]),
        reverse("audit:trail") + "?action=" + SCRIPT,
    ):
        if SCRIPT.encode() in client.get(path).content:
            unescaped.append(path)
    assert pages > 20
    assert not unescaped, f"unescaped on: {unescaped}"


# --- Headers and deployment checks --------------------------------------------------


def test_pages_send_csp_frame_and_content_type_headers(client):
    response = client.get(reverse("login"))
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "'unsafe-inline'" not in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_hsts_is_sent_over_https_when_configured(client, settings):
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    response = client.get(reverse("login"), secure=True)
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")


def test_an_admin_page_needs_a_verified_session_even_for_a_superuser(client):
    user = StaffUserFactory(is_superuser=True)
    client.force_login(user)
    session = client.session
    session.pop(DEVICE_ID_SESSION_KEY, None)
    session.save()
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "/login/" in response["Location"]


# --- The staff admin goes through the same services ------------------------------------


def _admin_client():
    return sign_in_verified(Client(), StaffUserFactory(role="admin"))


def test_a_password_set_in_the_admin_ends_every_other_session_of_that_person():
    # Only one's own: nobody sets another person's password (tests/accounts/test_staff_grants.py).
    user, _ = enrolled_staff(role="admin")
    their_session = sign_in_verified(Client(), user)
    here = sign_in_verified(Client(), user)
    response = here.post(
        reverse("admin:auth_user_password_change", args=[user.pk]),
        {
            "password1": "a much better passphrase 7",
            "password2": "a much better passphrase 7",
            "usable_password": "true",
        },
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("a much better passphrase 7")
    assert their_session.get("/").status_code == 302
    assert here.get("/").status_code == 200
    assert AuditEvent.objects.filter(action="staff.password_changed", actor=user).exists()


def test_disabling_in_the_admin_ends_every_session_of_that_person():
    user, _ = enrolled_staff(role="agent")
    their_session = sign_in_verified(Client(), user)
    response = _admin_client().post(
        reverse("admin:accounts_staffuser_changelist"),
        {"action": "disable_staff", "_selected_action": [user.pk]},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert not user.is_active
    assert their_session.get("/").status_code == 302
    assert AuditEvent.objects.filter(action="staff.disabled").exists()


def test_an_admin_role_cannot_make_anyone_a_superuser():
    user, _ = enrolled_staff(role="agent")
    page = _admin_client().get(reverse("admin:accounts_staffuser_change", args=[user.pk]))
    fields = page.context["adminform"].form.fields
    assert "is_superuser" not in fields
    assert "user_permissions" not in fields


def test_the_admin_resets_a_second_factor_with_an_audited_action():
    user, _ = enrolled_staff(role="agent")
    response = _admin_client().post(
        reverse("admin:accounts_staffuser_changelist"),
        {"action": "reset_second_factor", "_selected_action": [user.pk]},
    )
    assert response.status_code == 302
    assert not AuthenticatorDevice.objects.filter(user=user).exists()
    assert AuditEvent.objects.filter(action="staff.second_factor_reset").count() == 1


def test_a_newcomer_signs_in_with_the_demo_login_the_command_printed(client):
    import base64
    import io
    import re

    from django.core.management import call_command

    out = io.StringIO()
    call_command("create_demo_staff", stdout=out)
    printed = out.getvalue()
    password = re.search(r"demo\.agent\s+(\S{16,})$", printed, flags=re.MULTILINE)[1]
    key = re.findall(r"authenticator key: ([A-Z2-7]+)", printed)[0]
    codes = re.findall(r"backup codes: (.+)$", printed, flags=re.MULTILINE)[0].split()
    assert len(codes) == 3

    client.post(reverse("login"), {"username": "demo.agent", "password": password})
    device = AuthenticatorDevice.objects.get(user__username="demo.agent")
    assert base64.b32encode(device.bin_key).decode().rstrip("=") == key
    response = client.post(reverse("signin:verify"), {"otp_token": current_code(device)})
    assert response["Location"] == reverse("dashboard")

    other = Client()
    other.post(reverse("login"), {"username": "demo.agent", "password": password})
    assert other.post(reverse("signin:verify"), {"otp_token": codes[0]}).status_code == 302


# --- Personal data --------------------------------------------------------------------


def test_a_complaints_officer_reveals_a_phone_once_for_an_audited_reason():
    customer = CustomerFactory(phone="13912345678")
    officer = sign_in_verified(Client(), StaffUserFactory(role="complaints officer"))
    detail = officer.get(reverse("customers:customer_detail", args=[customer.pk]))
    assert b"13912345678" not in detail.content
    assert b"139****5678" in detail.content
    assert reverse("customers:reveal_phone", args=[customer.pk]).encode() in detail.content

    form = officer.get(reverse("customers:reveal_phone", args=[customer.pk]))
    assert b"13912345678" not in form.content
    too_short = officer.post(reverse("customers:reveal_phone", args=[customer.pk]), {"reason": "x"})
    assert b"13912345678" not in too_short.content
    shown = officer.post(
        reverse("customers:reveal_phone", args=[customer.pk]),
        {"reason": "Customer asked for a call-back about complaint 12"},
    )
    assert b"13912345678" in shown.content
    assert shown["Cache-Control"] == "no-store"
    event = AuditEvent.objects.get(action="customer.phone_revealed")
    assert event.summary == {"phone": "139****5678"}
    assert "complaint 12" in event.reason
    # Shown once: loading the page again shows the form, not the number.
    assert (
        b"13912345678"
        not in officer.get(reverse("customers:reveal_phone", args=[customer.pk])).content
    )


def test_an_agent_may_not_reveal_a_phone():
    customer = CustomerFactory()
    agent = sign_in_verified(Client(), StaffUserFactory(role="agent"))
    detail = agent.get(reverse("customers:customer_detail", args=[customer.pk]))
    assert b"Reveal" not in detail.content
    response = agent.post(
        reverse("customers:reveal_phone", args=[customer.pk]),
        {"reason": "Just curious about the number"},
    )
    assert response.status_code == 403
    assert not AuditEvent.objects.filter(action="customer.phone_revealed").exists()


def test_no_audit_summary_holds_a_full_identifier(world):  # noqa: F811
    """Whatever the services wrote so far: summaries carry masked values only."""
    import json
    import re

    officer = StaffUserFactory(role="supervisor")
    from accounts.services import reveal_customer_phone

    reveal_customer_phone(customer=world.customer, actor=officer, reason="Call-back requested")
    for event in AuditEvent.objects.all():
        text = json.dumps(event.summary)
        assert not re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", text), event.action
        assert not re.search(r"(?<!\d)\d{13,19}(?!\d)", text), event.action


def test_a_mistyped_enrolment_code_can_be_retried_without_showing_the_secret_again(
    client, settings
):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # django-otp's back-off after a failure, not tested here
    user = StaffUserFactory()
    sign_in_with_password(client, user)
    client.get(reverse("signin:enrol"))
    device = AuthenticatorDevice.objects.get(user=user, confirmed=False)
    retry = client.post(reverse("signin:enrol"), {"otp_token": wrong_code(device)})
    assert retry.status_code == 200
    assert b"data:image/svg+xml" not in retry.content
    import base64

    assert base64.b32encode(device.bin_key).rstrip(b"=") not in retry.content
    done = client.post(reverse("signin:enrol"), {"otp_token": current_code(device)})
    assert len(done.context["backup_codes"]) == 10
    assert AuditEvent.objects.filter(action="staff.second_factor_enrolment_failed").count() == 1


def test_changing_ones_own_password_ends_the_other_sessions_and_keeps_this_one():
    user, _ = enrolled_staff(role="agent")
    here = sign_in_verified(Client(), user)
    elsewhere = sign_in_verified(Client(), user)
    response = here.post(
        reverse("admin:password_change"),
        {
            "old_password": STAFF_PASSWORD,
            "new_password1": "a much better passphrase 7",
            "new_password2": "a much better passphrase 7",
        },
    )
    assert response.status_code == 302
    assert here.get("/").status_code == 200
    assert elsewhere.get("/").status_code == 302
    event = AuditEvent.objects.get(action="staff.password_changed")
    assert event.actor == user


def test_the_admin_login_page_sends_to_the_staff_sign_in(client):
    response = client.get("/admin/login/?next=/admin/accounts/customer/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert "next=/admin/accounts/customer/" in response["Location"]


def test_the_customer_search_never_echoes_a_full_identifier():
    from tests.factories import CardFactory

    card = CardFactory(number="6222021234567890")
    card.customer.phone = "13912345678"
    card.customer.save(update_fields=["phone"])
    agent = sign_in_verified(Client(), StaffUserFactory(role="agent"))
    for query, masked in (
        # Searched by fingerprint: the page cannot even tell which digits were typed.
        ("6222021234567890", "the full card number or national id searched for"),
        ("110105199001159999", "the full card number or national id searched for"),
        ("13912345678", "139****5678"),
    ):
        page = agent.post(reverse("customers:customer_search"), {"q": query}, follow=True)
        assert query.encode() not in page.content
        assert all(query not in url for url, _ in page.redirect_chain)
        assert masked in page.content.decode()
    found = agent.post(reverse("customers:customer_search"), {"q": "6222021234567890"}, follow=True)
    assert card.customer.full_name in found.content.decode()


def test_the_admin_search_box_never_echoes_a_full_identifier():
    import re

    from tests.factories import CardFactory

    card = CardFactory(number="6222021234567890")
    admin_client = sign_in_verified(Client(), StaffUserFactory(is_superuser=True))
    page = admin_client.get(
        reverse("admin:accounts_customer_changelist"), {"q": "6222021234567890"}, follow=True
    )
    assert page.status_code == 200
    # A changelist URL typed by hand with the number is moved to its fingerprint form
    # before anything renders; neither the box nor any link holds the number.
    # (The search box itself posts: tests/backoffice/customers/test_identifier_urls.py.)
    assert all("6222021234567890" not in url for url, _ in page.redirect_chain)
    box = re.search(r'<input[^>]*id="searchbar"[^>]*>', page.content.decode())[0]
    assert "6222021234567890" not in box
    assert "6222021234567890" not in page.content.decode()
    assert card.customer.full_name in page.content.decode()
    by_name = admin_client.get(reverse("admin:accounts_customer_changelist"), {"q": "Wang"})
    assert b'value="Wang"' in by_name.content
