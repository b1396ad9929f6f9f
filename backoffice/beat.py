"""Exactly one beat sends the schedule, however many are started: a PostgreSQL advisory lock.

Two beats would send every periodic task twice (two debit-run triggers, two
sweeps every 15 s). Most tasks would shrug it off - a day's run is unique, the
sweepers claim rows - but the guarantee should not rest on every task being
written that way. So any number of beats may run (one per machine, for
failover); the one holding a session-level advisory lock sends, and the others
stand by, asking again every ``STANDBY_RETRY_SECONDS``. When the holder's
process or machine dies its database session ends, PostgreSQL releases the
lock, and a standby takes over within that interval (a vanished machine's
session lasts until the server's TCP keepalive gives up on it; see
docs/scaling.md).

The lock lives on a connection of its own, outside Django's, which the
scheduler closes and reopens as it pleases. On SQLite (development, one beat)
there is no lock and the scheduler behaves as django-celery-beat's.
"""

import contextlib
import logging

import psycopg
from django.conf import settings
from django.db import connection
from django_celery_beat.schedulers import DatabaseScheduler

logger = logging.getLogger(__name__)

# Any fixed 64-bit number nobody else locks with: here "beat" in ASCII, shifted.
BEAT_LOCK_KEY = int.from_bytes(b"bo-beat!", "big") >> 1
# How long a standby waits before asking for the lock again: also the longest a
# schedule goes unsent after the holder's session has ended.
STANDBY_RETRY_SECONDS = 5.0


class BeatLock:
    """The advisory lock that makes one beat the sender, on its own connection."""

    def __init__(self, key: int = BEAT_LOCK_KEY):
        self.key = key
        self._conn: psycopg.Connection | None = None
        self._held = False

    def held(self) -> bool:
        """True while this process holds the lock; takes it when it is free."""
        if self._held:
            try:
                self._conn.execute("SELECT 1")
                return True
            except psycopg.Error:
                logger.warning("beat lock: its connection failed; asking for the lock again")
                self.release()
        try:
            if self._conn is None:
                self._conn = psycopg.connect(
                    **_connection_parameters(), autocommit=True, connect_timeout=5
                )
            row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", [self.key]).fetchone()
        except psycopg.Error as exc:
            logger.warning("beat lock: cannot ask PostgreSQL (%s); standing by", exc)
            self.release()
            return False
        self._held = bool(row[0])
        return self._held

    def release(self) -> None:
        """Closing the session releases the lock (and any count of it) at once."""
        self._held = False
        if self._conn is not None:
            # A close that fails leaves the session gone either way, and with it the lock.
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._conn = None


def _connection_parameters() -> dict:
    db = settings.DATABASES["default"]
    parameters = {
        "dbname": db["NAME"],
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
        # Shown in pg_stat_activity: which machine's beat is the sender.
        "application_name": "backoffice-beat-lock",
    }
    return {name: value for name, value in parameters.items() if value is not None}


class SingleBeatScheduler(DatabaseScheduler):
    """django-celery-beat's scheduler, sending only while it holds the beat lock."""

    def __init__(self, *args, **kwargs):
        self.beat_lock = BeatLock()
        self._sending = False
        super().__init__(*args, **kwargs)

    def tick(self, *args, **kwargs):
        if connection.vendor != "postgresql":
            return super().tick(*args, **kwargs)
        if not self.beat_lock.held():
            if self._sending:
                logger.warning("beat lock lost: this beat stands by")
                self._sending = False
            return STANDBY_RETRY_SECONDS
        if not self._sending:
            logger.info("beat lock taken: this beat sends the schedule")
            self._sending = True
            # Read the schedule afresh: the last sender recorded what it ran.
            self._initial_read = True
            self._heap = None
        return super().tick(*args, **kwargs)

    def close(self):
        super().close()
        self.beat_lock.release()
