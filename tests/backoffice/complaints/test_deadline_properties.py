"""The complaint calendar as properties (backoffice/complaints/deadlines.py, docs/complaints.md).

The rules: days are calendar days counted in Asia/Shanghai whatever zone the time
of receipt is written in (the measures count 日, not working days, so a deadline
may fall on a weekend or holiday); the decision is due 15 days after the day of
receipt, 30 once extended, 60 at most; the deadline ends at midnight after the due
day there, and Shanghai keeps no summer time, so that is always a whole number of
24-hour days after the day of receipt began.
"""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backoffice.complaints import deadlines
from tests.properties import generated, tried

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Zones a time of receipt may arrive in, two of them with summer time.
ZONES = [dt.UTC, SHANGHAI, ZoneInfo("America/New_York"), ZoneInfo("Europe/London")]

# China has kept no summer time since 1991; complaints are received after that.
moments = st.datetimes(
    min_value=dt.datetime(1992, 1, 1),
    max_value=dt.datetime(2099, 12, 31),
    timezones=st.just(dt.UTC),
)
zones = st.sampled_from(ZONES)
stages = st.sampled_from(sorted(deadlines.DAYS_BY_STAGE))


def _deadline(received_at: dt.datetime, stage: int = 0) -> dt.datetime:
    return deadlines.deadline_moment(deadlines.due_on(deadlines.received_on(received_at), stage))


@generated()
@given(moment=moments, zone=zones)
def test_the_day_of_receipt_is_the_shanghai_date_whatever_zone_the_time_is_written_in(moment, zone):
    tried("deadlines: received_on")
    written = moment.astimezone(zone)
    assert deadlines.received_on(written) == deadlines.received_on(moment)
    assert deadlines.received_on(written) == moment.astimezone(SHANGHAI).date()


@generated()
@given(moment=moments, stage=stages)
def test_the_deadline_ends_a_whole_number_of_days_after_the_day_of_receipt_began(moment, stage):
    tried("deadlines: deadline_moment")
    received = deadlines.received_on(moment)
    began = dt.datetime.combine(received, dt.time.min, tzinfo=SHANGHAI)
    ends = deadlines.deadline_moment(deadlines.due_on(received, stage))
    days = deadlines.DAYS_BY_STAGE[stage]
    # In absolute time, so summer time anywhere (none in Shanghai) would show.
    assert ends.astimezone(dt.UTC) - began.astimezone(dt.UTC) == dt.timedelta(days=days + 1)
    assert dt.timedelta(days=days) < ends - moment <= dt.timedelta(days=days + 1)
    assert ends.astimezone(SHANGHAI).time() == dt.time.min
    # Calendar days: the due day is exactly `days` after receipt, whatever weekday it is.
    assert (deadlines.due_on(received, stage) - received).days == days


@generated()
@given(
    first=moments,
    later_by=st.timedeltas(min_value=dt.timedelta(0), max_value=dt.timedelta(days=400)),
)
def test_a_later_receipt_never_has_an_earlier_deadline(first, later_by):
    tried("deadlines: monotone in the time of receipt")
    for stage in deadlines.DAYS_BY_STAGE:
        assert _deadline(first, stage) <= _deadline(first + later_by, stage)


@generated()
@given(moment=moments)
def test_each_extension_moves_the_deadline_later_and_none_goes_past_60_days(moment):
    tried("deadlines: extensions")
    received = deadlines.received_on(moment)
    stage, dues = 0, [deadlines.due_on(received, 0)]
    while True:
        try:
            stage = deadlines.next_stage(stage)
        except deadlines.DeadlineError:
            break
        dues.append(deadlines.due_on(received, stage))
    assert [(due - received).days for due in dues] == [15, 30, 60]
    assert stage == deadlines.MAX_STAGE


@generated(scale=2)
@given(moment=moments, stage=stages, now=moments, zone=zones)
def test_breached_exactly_when_no_day_is_left(moment, stage, now, zone):
    tried("deadlines: breach, days left, reminder")
    due = deadlines.due_on(deadlines.received_on(moment), stage)
    now = now.astimezone(zone)
    breached = deadlines.is_breached(due, now=now)
    assert breached == (now >= deadlines.deadline_moment(due))
    assert breached == (deadlines.days_left(due, now=now) < 0)
    if deadlines.reminder_due(due, now=now):
        assert not breached
    # A decision at `now` is in time exactly when it is not past the deadline.
    in_time = (
        deadlines.days_to_decision(deadlines.received_on(moment), now)
        <= (deadlines.DAYS_BY_STAGE[stage])
    )
    assert in_time == (not breached) or now < moment


@generated()
@given(moment=moments, earlier=st.timedeltas(dt.timedelta(0), dt.timedelta(days=90)))
def test_time_only_moves_towards_a_breach(moment, earlier):
    tried("deadlines: breach is monotone in time")
    due = deadlines.due_on(deadlines.received_on(moment))
    if deadlines.is_breached(due, now=moment - earlier):
        assert deadlines.is_breached(due, now=moment)
    assert deadlines.days_left(due, now=moment - earlier) >= deadlines.days_left(due, now=moment)


@pytest.mark.parametrize("stage", [3, -1])
def test_an_unknown_stage_has_no_deadline(stage):
    with pytest.raises(KeyError):
        deadlines.due_on(dt.date(2026, 1, 1), stage)
