"""Real ``celery worker`` subprocesses, for the tests and for the benchmarks in bench/.

Nothing here touches Django at import time, so a benchmark script can import it
before it has configured its settings.
"""

import os
import shutil
import signal
import socket
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
        wait_ready: bool = True,
        name: str | None = None,
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
                *(["-n", name] if name else []),
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
        if not wait_ready:
            return
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

    def is_ready(self) -> bool:
        return self.process.poll() is None and "ready." in self.log_path.read_text()

    def pool_children(self) -> list[int]:
        """Pids of the prefork pool's processes (the ones running tasks)."""
        pid = self.process.pid
        try:
            return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except OSError:
            return []

    def kill_pool_child(self) -> bool:
        """SIGKILL one pool process mid-task, as the OOM killer would; the parent
        replaces it and, with acks_late, gives the message back to the broker."""
        children = self.pool_children()
        if not children:
            return False
        try:
            os.kill(children[0], signal.SIGKILL)
        except ProcessLookupError:
            return False
        return True

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


class BeatProcess:
    """A real ``celery beat`` subprocess on the database scheduler (django-celery-beat)."""

    def __init__(self, *, env: dict[str, str], log: Path, schedule_dir: Path):
        self.log_path = log
        self._log = log.open("w")
        self.process = subprocess.Popen(  # noqa: S603 # nosec B603 # our own celery app and arguments
            [sys.executable, "-m", "celery", "-A", "backoffice", "beat", "-l", "INFO",
             "--pidfile=", "-s", str(schedule_dir / "beat-schedule")],
            cwd=PROJECT_DIR, env=env, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self._log.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrivateRedis:
    """A throw-away redis-server keeping nothing on disk: a restart loses every message."""

    def __init__(self, port: int, log: Path):
        self.port, self.log_path = port, log
        self._log = log.open("a")
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10) -> None:
        self.process = subprocess.Popen(  # noqa: S603 # nosec B603 # fixed arguments
            [shutil.which("redis-server") or "redis-server", "--port", str(self.port),
             "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=self._log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        import redis

        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if client.ping():
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server on port {self.port} did not start")

    def kill(self) -> None:
        """SIGKILL: whatever it held (queued and unacknowledged messages) is gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> None:
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


def manage(env: dict, *args: str) -> str:
    """``manage.py`` with ``args`` in a process of its own, as cron or an operator runs it;
    fails with its stderr when it exits non-zero."""
    done = subprocess.run(  # noqa: S603 # nosec B603 # our own manage.py, fixed arguments
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    if done.returncode != 0:
        raise AssertionError(f"manage.py {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def sweep_until_finished(run, env: dict, *sweeps: str, timeout: float = 240) -> None:
    """What beat does every two minutes, every few seconds: ``reconcile --only`` each of
    ``sweeps`` until ``run`` is no longer running."""
    from debits.models import DebitRun
    from tests.conftest import wait_until

    def finished() -> bool:
        run.refresh_from_db()
        if run.state != DebitRun.State.RUNNING:
            return True
        for sweep in sweeps:
            manage(env, "reconcile", "--only", sweep)
        return False

    wait_until(finished, timeout=timeout, interval=3, message="the run did not complete")
