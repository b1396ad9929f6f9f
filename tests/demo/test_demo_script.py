"""scripts/demo: the environment it runs the back office with, and reset links on its port."""

import re
import subprocess  # nosec B404 # runs our own script

import pytest

from accounts.models import PasswordResetRequest
from accounts.roles import Role
from accounts.services import start_password_reset
from tests.conftest import PROJECT_DIR
from tests.factories import CardCredentialFactory, StaffUserFactory


def demo_environment(**env: str) -> dict[str, str]:
    import os

    base = {k: v for k, v in os.environ.items() if k not in {"PUBLIC_BASE_URL", "PORT"}}
    result = subprocess.run(  # noqa: S603 # nosec B603 # our own script, no shell
        [str(PROJECT_DIR / "scripts" / "demo"), "--print-env"],
        env={**base, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return dict(line.split("=", 1) for line in result.stdout.splitlines())


def test_the_reset_links_follow_the_port_the_demo_serves_on():
    assert demo_environment(PORT="8123")["PUBLIC_BASE_URL"] == "http://127.0.0.1:8123"
    assert demo_environment()["PUBLIC_BASE_URL"] == "http://127.0.0.1:8000"
    explicit = demo_environment(PORT="8123", PUBLIC_BASE_URL="https://demo.example")
    assert explicit["PUBLIC_BASE_URL"] == "https://demo.example"


def test_the_demo_names_where_messages_go_and_the_settings_it_reads():
    env = demo_environment(DEMO_CUSTOMERS="5000", GATEWAY_SIMULATOR_TIMEOUT_RATE="0.1")
    assert env["DEMO_CUSTOMERS"] == "5000"
    assert env["GATEWAY_SIMULATOR_TIMEOUT_RATE"] == "0.1"
    assert env["NOTIFICATION_BACKEND"] == "accounts.notifications.FileNotificationBackend"
    assert env["NOTIFICATION_FILE_DIR"] == "var/notifications"


@pytest.mark.django_db
def test_the_customer_gets_a_link_to_the_public_base_url(
    settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:8123"
    settings.NOTIFICATION_BACKEND = "accounts.notifications.FileNotificationBackend"
    settings.NOTIFICATION_FILE_DIR = tmp_path
    card = CardCredentialFactory().card
    with django_capture_on_commit_callbacks(execute=True):
        start_password_reset(
            card=card,
            kind="transaction",
            verification_method=PasswordResetRequest.VerificationMethod.BRANCH_ID_CHECK,
            verification_reference="BR-1",
            delivery_channel=PasswordResetRequest.DeliveryChannel.SMS,
            actor=StaffUserFactory(role=Role.AGENT),
        )
    [message] = list(tmp_path.glob("*-password_reset_link-*.txt"))
    assert re.search(r"http://127\.0\.0\.1:8123/reset/[A-Za-z0-9_\-]+/", message.read_text())
