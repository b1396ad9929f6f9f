"""Nobody is a superuser at work: demo logins, the deploy check, break-glass, the admin role."""

import io
from unittest import mock

import pytest
from axes.models import AccessAttempt, AccessLog
from django.core.management import call_command
from django.core.management.base import CommandError, SystemCheckError
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp

from accounts.checks import check_no_superuser_at_work
from accounts.models import AuditEvent, AuthenticatorDevice, BreakGlassGrant, StaffUser
from accounts.services import clear_sign_in_history
from accounts.services.break_glass import end_expired_break_glass
from tests.backoffice.test_access_matrix import ADMIN, all_url_patterns, row_for, world  # noqa: F401
from tests.conftest import sign_in_verified
from tests.factories import StaffUserFactory

pytestmark = pytest.mark.django_db

REASON = "Role table broken after a failed deployment, INC-2031"


def _code(user) -> str:
    device = AuthenticatorDevice.objects.get_or_create(user=user, confirmed=True)[0]
    return f"{totp(device.bin_key):06d}"


# --- Demo logins -------------------------------------------------------------------


def test_no_demo_login_is_a_superuser_after_create_demo_staff():
    call_command("create_demo_staff", stdout=io.StringIO())
    assert StaffUser.objects.filter(username__startswith="demo.").count() == 6
    assert not StaffUser.objects.filter(is_superuser=True).exists()


def test_create_demo_staff_demotes_an_old_superuser_demo_admin():
    call_command("create_demo_staff", stdout=io.StringIO())
    StaffUser.objects.filter(username="demo.admin").update(is_superuser=True)
    call_command("create_demo_staff", stdout=io.StringIO())
    assert not StaffUser.objects.get(username="demo.admin").is_superuser
    assert AuditEvent.objects.filter(action="staff.superuser_removed").count() == 1


# --- The deploy check --------------------------------------------------------------


@override_settings(DEBUG=False)
def test_the_deploy_check_fails_on_an_active_superuser():
    assert check_no_superuser_at_work() == []
    StaffUserFactory(username="root", is_superuser=True, break_glass=False)
    errors = check_no_superuser_at_work()
    assert [e.id for e in errors] == ["accounts.E001"]
    assert "root" in errors[0].msg
    with pytest.raises(SystemCheckError, match="accounts.E001"):
        call_command("check", "--deploy", stderr=io.StringIO())


@override_settings(DEBUG=False)
def test_the_deploy_check_warns_while_a_break_glass_grant_lives():
    StaffUserFactory(username="oncall", is_superuser=True)  # the factory opens a live grant
    assert [e.id for e in check_no_superuser_at_work()] == ["accounts.W001"]


@override_settings(DEBUG=False)
def test_a_disabled_superuser_does_not_fail_the_check():
    StaffUserFactory(is_superuser=True, is_active=False, break_glass=False)
    assert check_no_superuser_at_work() == []


# --- Break-glass -------------------------------------------------------------------


def _break_glass(*args, code: str):
    out = io.StringIO()
    with mock.patch("accounts.management.commands.break_glass.getpass", return_value=code):
        call_command("break_glass", *args, stdout=out)
    return out.getvalue()


def test_break_glass_needs_a_second_persons_code_and_is_audited():
    oncall = StaffUserFactory(role="operations")
    approver = StaffUserFactory(role="supervisor")
    with pytest.raises(CommandError, match="code is not valid"):
        _break_glass(
            oncall.username, "--approved-by", approver.username, "--reason", REASON, code="000000"
        )
    with pytest.raises(CommandError, match="second person"):
        _break_glass(
            oncall.username, "--approved-by", oncall.username, "--reason", REASON, code="1"
        )
    printed = _break_glass(
        oncall.username,
        "--approved-by",
        approver.username,
        "--minutes",
        "30",
        "--reason",
        REASON,
        code=_code(approver),
    )
    assert "superuser until" in printed
    oncall.refresh_from_db()
    assert oncall.is_superuser
    grant = BreakGlassGrant.objects.get(staff=oncall)
    assert (grant.approved_by, grant.reason) == (approver, REASON)
    assert 29 * 60 < (grant.expires_at - grant.granted_at).total_seconds() <= 30 * 60
    event = AuditEvent.objects.get(action="break_glass.opened")
    assert (event.actor, event.object_id, event.reason) == (approver, str(oncall.pk), REASON)


def test_an_approver_without_the_permission_cannot_open_break_glass():
    oncall = StaffUserFactory(role="operations")
    agent = StaffUserFactory(role="agent")
    with pytest.raises(CommandError, match="may not approve"):
        _break_glass(
            oncall.username, "--approved-by", agent.username, "--reason", REASON, code=_code(agent)
        )
    assert not StaffUser.objects.get(pk=oncall.pk).is_superuser


def test_every_request_under_break_glass_is_audited_and_it_ends_by_itself():
    oncall = StaffUserFactory(is_superuser=True)
    client = sign_in_verified(Client(), oncall)
    assert client.get(reverse("admin:index")).status_code == 200
    assert client.get(reverse("admin:accounts_customer_changelist")).status_code == 200
    paths = list(
        AuditEvent.objects.filter(action="break_glass.request", actor=oncall)
        .order_by("id")
        .values_list("summary__path", flat=True)
    )
    assert paths == [reverse("admin:index"), reverse("admin:accounts_customer_changelist")]

    BreakGlassGrant.objects.filter(staff=oncall).update(
        granted_at=timezone.now() - timezone.timedelta(hours=2),
        expires_at=timezone.now() - timezone.timedelta(minutes=1),
    )
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    oncall.refresh_from_db()
    assert not oncall.is_superuser
    assert AuditEvent.objects.filter(action="break_glass.closed", object_id=str(oncall.pk)).exists()


def test_the_periodic_sweep_demotes_expired_and_unexplained_superusers():
    unexplained = StaffUserFactory(is_superuser=True, break_glass=False)
    expired = StaffUserFactory(is_superuser=True)
    BreakGlassGrant.objects.filter(staff=expired).update(
        granted_at=timezone.now() - timezone.timedelta(hours=2),
        expires_at=timezone.now() - timezone.timedelta(minutes=1),
    )
    live = StaffUserFactory(is_superuser=True)
    assert end_expired_break_glass() == 2
    assert set(StaffUser.objects.filter(is_superuser=True)) == {live}
    assert not StaffUser.objects.get(pk=unexplained.pk).is_superuser


# --- The admin role ------------------------------------------------------------------


CUSTOMER_PAGES = (
    "customers:customer_search",
    "customers:customer_detail",
    "customers:card_detail",
    "collection:attempt_list",
    "customers:reveal_phone",
    "audit:export",
)


def test_the_admin_role_gets_403_on_every_customer_page(world):  # noqa: F811
    client = sign_in_verified(Client(), StaffUserFactory(role=ADMIN))
    walked = []
    for pattern in all_url_patterns():
        name = pattern.name or ""
        is_customer_admin = name.startswith(
            ("admin:accounts_customer_", "admin:accounts_card_", "admin:debits_loan_")
        )
        if name not in CUSTOMER_PAGES and not is_customer_admin:
            continue
        row = row_for(name)
        kwargs = row.kwargs(world) if row.kwargs else {}
        if kwargs is None:
            continue
        response = client.get(reverse(name, kwargs=kwargs))
        assert response.status_code == 403, name
        walked.append(name)
    assert set(CUSTOMER_PAGES) <= set(walked)


# --- Sign-in history ------------------------------------------------------------------


def _history():
    old = timezone.now() - timezone.timedelta(days=400)
    log = AccessLog.objects.create(username="staff1", ip_address="10.0.0.1", user_agent="x")
    AccessLog.objects.filter(pk=log.pk).update(attempt_time=old)
    attempt = AccessAttempt.objects.create(
        username="staff1", ip_address="10.0.0.1", user_agent="x", failures_since_start=3
    )
    return log, attempt


def test_sign_in_history_cannot_be_deleted_in_the_admin_even_by_a_superuser():
    log, attempt = _history()
    root = sign_in_verified(Client(), StaffUserFactory(is_superuser=True))
    for model, row in (("accesslog", log), ("accessattempt", attempt)):
        delete_page = reverse(f"admin:axes_{model}_delete", args=[row.pk])
        assert root.get(delete_page).status_code == 403
        assert root.post(delete_page, {"post": "yes"}).status_code == 403
        root.post(
            reverse(f"admin:axes_{model}_changelist"),
            {"action": "delete_selected", "_selected_action": [row.pk], "post": "yes"},
        )
    assert AccessLog.objects.filter(pk=log.pk).exists()
    assert AccessAttempt.objects.filter(pk=attempt.pk).exists()


def test_old_sign_in_history_is_cleared_by_the_service_with_a_reason_and_audited():
    log, attempt = _history()
    admin = StaffUserFactory(role=ADMIN)
    removed = clear_sign_in_history(
        actor=admin, older_than_days=365, reason="Retention period of one year passed"
    )
    assert removed == {"access_logs": 1, "failure_logs": 0, "attempts": 0}
    assert not AccessLog.objects.filter(pk=log.pk).exists()
    assert AccessAttempt.objects.filter(pk=attempt.pk).exists()  # recent: kept
    event = AuditEvent.objects.get(action="sign_in_history.cleared")
    assert event.actor == admin and event.summary["access_logs"] == 1


def test_a_beat_schedule_ends_expired_break_glass_every_minute():
    from django_celery_beat.models import PeriodicTask

    from accounts.tasks import end_expired_break_glass_task

    task = PeriodicTask.objects.get(task="accounts.tasks.end_expired_break_glass_task")
    assert task.enabled and task.interval.every == 60
    lapsed = StaffUserFactory(is_superuser=True)
    BreakGlassGrant.objects.filter(staff=lapsed).update(
        granted_at=timezone.now() - timezone.timedelta(hours=2),
        expires_at=timezone.now() - timezone.timedelta(minutes=1),
    )
    assert end_expired_break_glass_task.apply().get() == 1
    assert not StaffUser.objects.get(pk=lapsed.pk).is_superuser
