"""The CBIRC 2020 calendar: 15 days, 30 with a reason, 60 with a supervisor; Shanghai days."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from backoffice.complaints import deadlines

SHANGHAI = ZoneInfo("Asia/Shanghai")
UTC = dt.UTC


def test_a_complaint_received_at_2359_in_shanghai_counts_from_that_date():
    received = dt.datetime(2026, 3, 1, 23, 59, tzinfo=SHANGHAI)
    assert deadlines.received_on(received) == dt.date(2026, 3, 1)
    assert deadlines.due_on(deadlines.received_on(received)) == dt.date(2026, 3, 16)


def test_days_are_counted_in_shanghai_not_in_utc():
    # 16:30 UTC on 1 March is already 00:30 on 2 March in Shanghai.
    received = dt.datetime(2026, 3, 1, 16, 30, tzinfo=UTC)
    assert deadlines.received_on(received) == dt.date(2026, 3, 2)
    # 15:59 UTC is 23:59 the same day there.
    assert deadlines.received_on(dt.datetime(2026, 3, 1, 15, 59, tzinfo=UTC)) == dt.date(2026, 3, 1)


def test_a_naive_time_of_receipt_is_refused():
    with pytest.raises(ValueError):
        deadlines.received_on(dt.datetime(2026, 3, 1, 12, 0))  # noqa: DTZ001


def test_the_deadline_is_15_days_then_30_then_60_from_the_day_of_receipt():
    received = dt.date(2026, 1, 31)
    assert deadlines.due_on(received, 0) == dt.date(2026, 2, 15)
    assert deadlines.due_on(received, 1) == dt.date(2026, 3, 2)
    assert deadlines.due_on(received, 2) == dt.date(2026, 4, 1)


def test_there_is_no_extension_beyond_60_days():
    assert deadlines.next_stage(0) == 1
    assert deadlines.next_stage(1) == 2
    with pytest.raises(deadlines.DeadlineError):
        deadlines.next_stage(2)


def test_the_deadline_passes_at_midnight_after_the_due_day_in_shanghai():
    due = dt.date(2026, 3, 16)
    last_minute = dt.datetime(2026, 3, 16, 23, 59, 59, tzinfo=SHANGHAI)
    midnight = dt.datetime(2026, 3, 17, 0, 0, tzinfo=SHANGHAI)
    assert not deadlines.is_breached(due, now=last_minute)
    assert deadlines.is_breached(due, now=midnight)
    # The same instant seen in UTC (16:00 on the 16th) is past the deadline too.
    assert deadlines.is_breached(due, now=dt.datetime(2026, 3, 16, 16, 0, tzinfo=UTC))


def test_a_reminder_is_due_in_the_last_days_before_the_deadline(settings):
    settings.COMPLAINT_REMINDER_DAYS_BEFORE = 3
    due = dt.date(2026, 3, 16)
    assert not deadlines.reminder_due(due, now=dt.datetime(2026, 3, 12, 9, tzinfo=SHANGHAI))
    assert deadlines.reminder_due(due, now=dt.datetime(2026, 3, 13, 9, tzinfo=SHANGHAI))
    assert not deadlines.reminder_due(due, now=dt.datetime(2026, 3, 17, 9, tzinfo=SHANGHAI))


def test_days_to_decision_count_shanghai_calendar_days():
    received = dt.date(2026, 3, 1)
    decided = dt.datetime(2026, 3, 15, 16, 30, tzinfo=UTC)  # 00:30 on the 16th in Shanghai
    assert deadlines.days_to_decision(received, decided) == 15
