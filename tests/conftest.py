"""Shared fixtures.

Tests that need real PostgreSQL, Redis with a Celery worker, or Chromium are
marked ``postgres``, ``redis_worker`` or ``browser``. Where the service is not
there they skip, unless REQUIRE_SERVICES=1 (as CI sets it), which turns every
such skip into a failure.
"""

import os
import shutil
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.workers import (  # noqa: F401 # re-exported: tests import these from here
    PROJECT_DIR,
    WorkerProcess,
    purge_broker,
    redis_broker_url,
    worker_environment,
)

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES", "") in {"1", "true", "yes"}
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def pytest_configure(config):
    """Compile the translation catalogues (built, never committed) before any page
    is translated: Django caches a language's catalogue the first time it is used."""
    if shutil.which("msgfmt"):
        from django.core.management import call_command

        call_command(
            "compilemessages", ignore_patterns=[".venv", "var", "node_modules"], verbosity=0
        )


def service_unavailable(reason: str):
    """Skip, or fail when the run demands every service (REQUIRE_SERVICES=1)."""
    if REQUIRE_SERVICES:
        pytest.fail(f"service not available: {reason}", pytrace=False)
    pytest.skip(f"service not available: {reason}")


def redis_is_reachable(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


@pytest.fixture(autouse=True)
def _services_for_markers(request):
    if request.node.get_closest_marker("postgres") and connection.vendor != "postgresql":
        service_unavailable("PostgreSQL (set DATABASE_URL=postgres://...)")
    if request.node.get_closest_marker("redis_worker"):
        if connection.vendor != "postgresql":
            service_unavailable("a worker needs a shared PostgreSQL database")
        url = redis_broker_url()
        if not url or not redis_is_reachable(url):
            service_unavailable("Redis broker (set CELERY_BROKER_URL=redis://...)")
    if request.node.get_closest_marker("browser") and not Path(CHROMIUM).exists():
        service_unavailable(f"Chromium at {CHROMIUM}")


@pytest.fixture(params=["batch", "per_call"])
def collect_path(request, settings):
    """Run the test over both ways of presenting to the network: batch calls
    (``collect_batch`` / ``get_status_batch``) and one call per instalment."""
    settings.DEBIT_GATEWAY_BATCH_SIZE = 500 if request.param == "batch" else 0
    return request.param


@pytest.fixture
def start_worker(transactional_db, tmp_path):
    """Factory: start real Celery worker processes; all are stopped after the test."""
    started: list[WorkerProcess] = []
    purge_broker()

    def start(*, queues: str = "default,resync,debits", concurrency: int = 2, **env_extra):
        worker = WorkerProcess(
            queues=queues,
            concurrency=concurrency,
            env=worker_environment(**env_extra),
            log=tmp_path / f"worker-{len(started)}.log",
        )
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
    purge_broker()


def wait_until(predicate, *, timeout: float = 30, interval: float = 0.1, message: str = ""):
    """Poll until ``predicate()`` is truthy; fail the test with ``message`` on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(message or "condition not reached in time")


@pytest.fixture
def chromium_path() -> str:
    return shutil.which("chromium") or CHROMIUM


def sign_in_verified(client, user):
    """Sign ``user`` in with a confirmed authenticator, as if both sign-in steps passed.

    Staff pages and the admin admit only sessions verified by a second factor;
    this gives the test client such a session without typing a code.
    """
    from django_otp import DEVICE_ID_SESSION_KEY

    from accounts.models import AuthenticatorDevice

    device = AuthenticatorDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = AuthenticatorDevice.objects.create(
            user=user, name="Authenticator app", confirmed=True
        )
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


@pytest.fixture(autouse=True)
def _english_outside_requests():
    """Code a test runs outside a request (services, labels, messages) reads English,
    as the suite's assertions do; a request still gets its own language, and the
    language tests override this by name."""
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture
def client():
    """A visitor whose browser asks for English: the suite reads its pages in English,
    while the product answers a browser that names no language in Chinese
    (LANGUAGE_CODE). The language tests ask for Chinese by name."""
    from django.test import Client

    return Client(HTTP_ACCEPT_LANGUAGE="en")


@pytest.fixture
def staff_client(client, db):
    """Factory: ``staff_client(role="agent")`` is a client signed in (verified) as that role."""
    from tests.factories import StaffUserFactory

    def make(role=None, **user_fields):
        user = StaffUserFactory(role=role, **user_fields)
        sign_in_verified(client, user)
        client.user = user
        return client

    return make


# The cache as configured (Redis when a redis:// broker is set), before tests swap it.
CONFIGURED_CACHES = {name: dict(conf) for name, conf in settings.CACHES.items()}


@pytest.fixture(autouse=True)
def _cache_of_its_own(settings):
    """Each test starts with an empty cache (rate-limit counters) that no other test shares.

    The configured cache may be a Redis database shared with the broker, which
    must not be flushed; tests that need the real one use CONFIGURED_CACHES.
    """
    import uuid

    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"test-{uuid.uuid4().hex}",
        }
    }


def pytest_terminal_summary(terminalreporter):
    """The number of cases each target was tried with: hostile inputs
    (tests/backoffice/hostile) and property-based tests (tests/properties.py)."""
    import sys

    for module, title in (
        ("tests.backoffice.hostile.cases", "hostile input: cases per target"),
        ("tests.properties", "property-based tests: generated cases per target"),
    ):
        cases = sys.modules.get(module)
        if cases is None or not cases.CASES:
            continue
        terminalreporter.section(title)
        width = max(len(target) for target in cases.CASES)
        for target, count in sorted(cases.CASES.items()):
            terminalreporter.write_line(f"{target:<{width}}  {count:>6}")
        terminalreporter.write_line(
            f"{'total':<{width}}  {sum(cases.CASES.values()):>6}  ({len(cases.CASES)} targets)"
        )
