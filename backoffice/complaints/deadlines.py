"""The regulator's calendar for a complaint (no database access).

The 2020 CBIRC measures on handling banking and insurance consumer complaints
(银行业保险业消费投诉处理管理办法): a decision within 15 days of receipt; a
complex case may be extended to 30 days with a recorded reason; a particularly
complex one a further 30 days (60 in all), only with a supervisor's approval
and the customer told. Days are counted in Asia/Shanghai whatever the server's
zone: a complaint received at 23:59 there counts from that date, and its
deadline is the end of the last day there.
"""

import datetime as dt
from zoneinfo import ZoneInfo

from django.conf import settings

SHANGHAI = ZoneInfo("Asia/Shanghai")

# Days from receipt to the decision, by deadline stage (0 standard, 1 and 2 extended).
DAYS_BY_STAGE = {0: 15, 1: 30, 2: 60}
MAX_STAGE = max(DAYS_BY_STAGE)


class DeadlineError(Exception):
    """An extension the measures do not allow (shown to staff as a message)."""


def received_on(received_at: dt.datetime) -> dt.date:
    """The day of receipt as the regulator counts it (Asia/Shanghai)."""
    if received_at.tzinfo is None:
        raise ValueError("received_at must be an aware datetime")
    return received_at.astimezone(SHANGHAI).date()


def due_on(received: dt.date, stage: int = 0) -> dt.date:
    """The last day a decision may be sent, for a deadline stage."""
    return received + dt.timedelta(days=DAYS_BY_STAGE[stage])


def deadline_moment(due: dt.date) -> dt.datetime:
    """The first instant past the deadline: midnight after the due day, in Shanghai."""
    return dt.datetime.combine(due + dt.timedelta(days=1), dt.time.min, tzinfo=SHANGHAI)


def next_stage(stage: int) -> int:
    if stage >= MAX_STAGE:
        raise DeadlineError("The deadline is already at 60 days, the most the measures allow")
    return stage + 1


def is_breached(due: dt.date, *, now: dt.datetime) -> bool:
    return now >= deadline_moment(due)


def days_left(due: dt.date, *, now: dt.datetime) -> int:
    """Whole Shanghai days left before the deadline day ends (0 on the due day, <0 past it)."""
    return (due - now.astimezone(SHANGHAI).date()).days


def reminder_due(due: dt.date, *, now: dt.datetime) -> bool:
    """Within the reminder window before the deadline, and not yet past it."""
    return not is_breached(due, now=now) and (
        days_left(due, now=now) <= settings.COMPLAINT_REMINDER_DAYS_BEFORE
    )


def days_to_decision(received: dt.date, decided_at: dt.datetime) -> int:
    """Calendar days from the day of receipt to the day of the decision (Shanghai)."""
    return (decided_at.astimezone(SHANGHAI).date() - received).days
