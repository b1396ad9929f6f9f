"""Production refuses settings that would leak reset links or second-factor secrets."""

import os
import subprocess
import sys

import pytest

from tests.conftest import PROJECT_DIR
from tests.production import production_environment

LOAD_SETTINGS = (
    "import django; from django.conf import settings; django.setup(); print(settings.DEBUG)"
)


def _start(**overrides: str | None) -> subprocess.CompletedProcess:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "backoffice.settings"}
    env.update(production_environment())
    env.update({k: v for k, v in overrides.items() if v is not None})
    for name in [k for k, v in overrides.items() if v is None]:
        env.pop(name, None)
    return subprocess.run(
        [sys.executable, "-c", LOAD_SETTINGS],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )


@pytest.mark.parametrize(
    "backend",
    [
        "accounts.notifications.ConsoleNotificationBackend",
        "accounts.notifications.FileNotificationBackend",
    ],
)
def test_production_refuses_a_console_or_file_notification_backend(backend):
    result = _start(NOTIFICATION_BACKEND=backend)
    assert result.returncode != 0
    assert "keeps reset links on the server" in result.stderr


def test_production_refuses_to_start_without_a_notification_backend():
    result = _start(NOTIFICATION_BACKEND=None)
    assert result.returncode != 0
    assert "NOTIFICATION_BACKEND must be set when DEBUG is off" in result.stderr


def test_a_test_deployment_may_allow_the_console_backend_explicitly():
    result = _start(
        NOTIFICATION_BACKEND="accounts.notifications.ConsoleNotificationBackend",
        NOTIFICATION_ALLOW_LOCAL_BACKEND="true",
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "PUBLIC_BASE_URL must be set when DEBUG is off"),
        ("http://backoffice.example", "PUBLIC_BASE_URL must be an https:// address"),
        ("https://", "PUBLIC_BASE_URL must be an https:// address"),
    ],
)
def test_production_refuses_a_missing_or_http_public_base_url(value, message):
    result = _start(PUBLIC_BASE_URL=value)
    assert result.returncode != 0
    assert message in result.stderr


def test_production_refuses_a_notification_gateway_that_is_not_https():
    result = _start(NOTIFICATION_GATEWAY_URL="http://sms-gateway.bank.example/")
    assert result.returncode != 0
    assert "NOTIFICATION_GATEWAY_URL must be an https:// URL" in result.stderr


def test_production_refuses_to_start_without_the_second_factor_encryption_key():
    result = _start(OTP_ENCRYPTION_KEYS=None)
    assert result.returncode != 0
    assert "OTP_ENCRYPTION_KEYS must be set when DEBUG is off" in result.stderr


def test_production_refuses_an_encryption_key_that_is_not_a_fernet_key():
    result = _start(OTP_ENCRYPTION_KEYS="not-a-key")
    assert result.returncode != 0
    assert "OTP_ENCRYPTION_KEYS entry 1 is not a Fernet key" in result.stderr
