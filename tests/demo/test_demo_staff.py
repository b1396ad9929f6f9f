"""create_demo_staff: one login per role, each password shown once."""

import re
from io import StringIO

import pytest
from django.core.management import call_command

from accounts.models import AuditEvent, StaffUser
from accounts.roles import Role


def _run(*args) -> str:
    out = StringIO()
    call_command("create_demo_staff", *args, stdout=out)
    return out.getvalue()


def _passwords(output: str) -> dict[str, str]:
    return dict(re.findall(r"(demo\.\w+)\s+(\S{16,})$", output, flags=re.MULTILINE))


@pytest.mark.django_db
def test_it_creates_one_login_per_role_that_can_sign_in():
    passwords = _passwords(_run())
    assert len(passwords) == len(Role)
    for role in Role:
        user = StaffUser.objects.get(groups__name=role.value)
        assert user.check_password(passwords[user.username])
        assert not user.is_superuser  # roles come from groups only
    assert AuditEvent.objects.filter(action="staff.demo_login_created").count() == len(Role)


@pytest.mark.django_db
def test_it_does_not_show_passwords_again_unless_asked_to_reset_them():
    first = _passwords(_run())
    again = _run()
    assert _passwords(again) == {}
    assert "already exist" in again
    assert StaffUser.objects.count() == len(Role)

    reset = _passwords(_run("--reset-passwords"))
    assert set(reset) == set(first)
    agent = StaffUser.objects.get(username="demo.agent")
    assert agent.check_password(reset["demo.agent"])
    assert not agent.check_password(first["demo.agent"])
