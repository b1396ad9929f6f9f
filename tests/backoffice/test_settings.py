"""Production refuses to start without its secrets, and passes Django's deploy checks."""

import os
import subprocess
import sys

import pytest

from tests.conftest import PROJECT_DIR
from tests.production import production_environment

SECRETS = ("SECRET_KEY", "CARD_PIN_PEPPER", "PII_FINGERPRINT_KEY", "OTP_ENCRYPTION_KEYS")
LOAD_SETTINGS = (
    "import django; from django.conf import settings; django.setup(); print(settings.DEBUG)"
)


def _production_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    env.update(DJANGO_SETTINGS_MODULE="backoffice.settings", **production_environment())
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


def _python(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )


@pytest.mark.parametrize("missing", SECRETS)
def test_production_refuses_to_start_without_a_secret(missing):
    env = _production_env()
    del env[missing]
    result = _python("-c", LOAD_SETTINGS, env=env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"{missing} must be set when DEBUG is off" in result.stderr


def test_production_refuses_the_development_placeholder_secret():
    env = _production_env(SECRET_KEY="insecure-development-only-secret_key")
    result = _python("-c", LOAD_SETTINGS, env=env)
    assert result.returncode != 0
    assert "SECRET_KEY still holds the development placeholder" in result.stderr


def test_production_refuses_to_start_without_allowed_hosts():
    env = _production_env()
    del env["ALLOWED_HOSTS"]
    result = _python("-c", LOAD_SETTINGS, env=env)
    assert result.returncode != 0
    assert "ALLOWED_HOSTS must be set when DEBUG is off" in result.stderr


def test_production_starts_with_its_secrets_set():
    result = _python("-c", LOAD_SETTINGS, env=_production_env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_the_deploy_checks_pass_with_production_settings():
    result = _python(
        "manage.py", "check", "--deploy", "--fail-level", "WARNING", env=_production_env()
    )
    assert result.returncode == 0, result.stderr + result.stdout


COOKIE_FLAGS = (
    "import django; from django.conf import settings; django.setup(); "
    "print(settings.SESSION_COOKIE_SECURE, settings.SESSION_COOKIE_HTTPONLY, "
    "settings.CSRF_COOKIE_SECURE, settings.SECURE_SSL_REDIRECT)"
)


def test_the_session_cookie_is_secure_and_http_only_in_production_settings():
    result = _python("-c", COOKIE_FLAGS, env=_production_env())
    assert result.returncode == 0, result.stderr
    session_secure, session_http_only, csrf_secure, ssl_redirect = result.stdout.split()
    assert session_secure == "True", "the session cookie must only travel over TLS"
    assert session_http_only == "True", "scripts on the page must not read the session cookie"
    assert csrf_secure == "True"
    assert ssl_redirect == "True"
