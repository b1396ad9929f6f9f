"""Real ``celery worker`` subprocesses, for the tests and for the benchmarks in bench/.

Nothing here touches Django at import time, so a benchmark script can import it
before it has configured its settings.
"""

import os
import signal
import subprocess  # nosec B404 # starts our own processes, never a shell
import sys
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


def redis_broker_url() -> str | None:
    from django.conf import settings

    url = settings.CELERY_BROKER_URL
    return url if url.startswith(("redis://", "rediss://")) else None


def database_url_for_workers() -> str:
    """The URL of the test database pytest-django created, for worker subprocesses."""
    from django.db import connection

    db = connection.settings_dict
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or "5432"
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


def worker_environment(**extra: str) -> dict[str, str]:
    """This process's environment, pointed at the test database and the configured broker."""
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
    """A real ``celery worker`` subprocess, in a session of its own so it stops as a whole."""

    def __init__(
        self,
        *,
        queues: str,
        concurrency: int,
        env: dict[str, str],
        log: Path,
        prefetch_multiplier: int | None = None,
        stop_timeout: float = 20,
        app: str = "backoffice",
    ):
        self.log_path = log
        self.stop_timeout = stop_timeout
        self._log = log.open("w")
        prefetch = (
            ["--prefetch-multiplier", str(prefetch_multiplier)] if prefetch_multiplier else []
        )
        self.process = subprocess.Popen(  # noqa: S603 # nosec B603 # our own celery app and arguments
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                app,
                "worker",
                "-Q",
                queues,
                "-c",
                str(concurrency),
                *prefetch,
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
        try:
            self._wait_ready()
        except RuntimeError:
            # Never leave a worker behind: it would take later messages from the same queue.
            self.kill()
            self._log.close()
            raise

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited: {self.log_path.read_text()[-2000:]}")
            if "ready." in self.log_path.read_text():
                return
            time.sleep(0.2)
        raise RuntimeError(f"worker did not become ready: {self.log_path.read_text()[-2000:]}")

    def kill(self) -> None:
        """SIGKILL the whole worker (parent and pool children), as a crash would."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        """SIGTERM (a warm shutdown), then SIGKILL if it has not ended in ``stop_timeout``."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


def purge_queues(*queues: str) -> None:
    """Drop every message waiting in ``queues`` on the configured broker."""
    from backoffice.celery import app

    with app.connection_for_write() as conn:
        for queue in queues:
            conn.default_channel.queue_purge(queue)


def purge_broker() -> None:
    """Empty every queue the project's workers consume."""
    from django.conf import settings

    purge_queues("default", settings.CELERY_QUEUE_RESYNC, settings.CELERY_QUEUE_DEBITS)
