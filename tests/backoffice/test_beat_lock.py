"""Exactly one beat sends the schedule: the others stand by until its session ends."""

import time

import pytest
from django_celery_beat.models import PeriodicTask

from backoffice.beat import STANDBY_RETRY_SECONDS, BeatLock, SingleBeatScheduler
from backoffice.celery import app

# Committed for real: django-celery-beat closes a connection found inside a transaction.
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _tick_until_sending(scheduler, *, within: float = 10.0) -> float:
    deadline = time.monotonic() + within
    while (delay := scheduler.tick()) == STANDBY_RETRY_SECONDS and time.monotonic() < deadline:
        time.sleep(0.1)
    return delay


def _held_within(lock: BeatLock, *, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while not lock.held():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_only_one_beat_holds_the_lock_and_a_standby_takes_it_when_the_holder_ends():
    first, second = BeatLock(), BeatLock()
    try:
        assert first.held()
        assert not second.held()
        assert first.held()  # still the holder on the next tick
        first.release()  # the holder's process ends: its session, and the lock, go
        assert _held_within(second)
        assert not first.held()
    finally:
        first.release()
        second.release()


def test_a_standby_beat_sends_nothing_and_sends_once_it_holds_the_lock():
    PeriodicTask.objects.update(enabled=False)  # nothing due: a tick sends no message
    holder = BeatLock()
    scheduler = SingleBeatScheduler(app=app, lazy=True, max_interval=60)
    try:
        assert holder.held()
        assert scheduler.tick() == STANDBY_RETRY_SECONDS
        holder.release()
        # The server frees the lock as the holder's backend exits, a moment after the
        # close: a standby asks again on each tick. Then it is the sender, and runs
        # django-celery-beat's own tick, which waits its full interval when nothing is due.
        assert _tick_until_sending(scheduler) == 60
    finally:
        holder.release()
        scheduler.beat_lock.release()
