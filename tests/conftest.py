"""Shared fixtures.

Tests that need real PostgreSQL, Redis with a Celery worker, or Chromium are
marked ``postgres``, ``redis_worker`` or ``browser``. Where the service is not
there they skip, unless REQUIRE_SERVICES=1 (as CI sets it), which turns every
such skip into a failure.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES", "") in {"1", "true", "yes"}
PROJECT_DIR = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def service_unavailable(reason: str):
    """Skip, or fail when the run demands every service (REQUIRE_SERVICES=1)."""
    if REQUIRE_SERVICES:
        pytest.fail(f"service not available: {reason}", pytrace=False)
    pytest.skip(f"service not available: {reason}")


def redis_broker_url() -> str | None:
    url = settings.CELERY_BROKER_URL
    return url if url.startswith(("redis://", "rediss://")) else None


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


def database_url_for_workers() -> str:
    """The URL of the test database pytest-django created, for worker subprocesses."""
    db = connection.settings_dict
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or "5432"
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


def worker_environment(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": database_url_for_workers(),
            "CELERY_BROKER_URL": redis_broker_url() or "",
            "CONN_MAX_AGE": "0",
            "DJANGO_SETTINGS_MODULE": "backoffice.settings",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


class WorkerProcess:
    """A real ``celery worker`` subprocess against the test database and Redis."""

    def __init__(self, *, queues: str, concurrency: int, env: dict[str, str], log: Path):
        self.log_path = log
        self._log = log.open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "backoffice",
                "worker",
                "-Q",
                queues,
                "-c",
                str(concurrency),
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-l",
                "INFO",
            ],
            cwd=PROJECT_DIR,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited: {self.log_path.read_text()[-2000:]}")
            if "ready." in self.log_path.read_text():
                return
            time.sleep(0.2)
        raise RuntimeError("worker did not become ready")

    def kill(self) -> None:
        """SIGKILL the whole worker (parent and pool children), as a crash would."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


def purge_broker() -> None:
    from backoffice.celery import app

    with app.connection_for_write() as conn:
        for queue in ("default", settings.CELERY_QUEUE_RESYNC, settings.CELERY_QUEUE_DEBITS):
            conn.default_channel.queue_purge(queue)


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
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


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
