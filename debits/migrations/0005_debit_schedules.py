"""Schedule the debit engine in django-celery-beat, where operations can see and edit it:
the daily run, intraday retry runs, the janitor for unsettled attempts, late-fee accrual."""

from django.db import migrations

TIMEZONE = "Asia/Shanghai"
QUEUE = "debits"

# name → (task, crontab fields or None, interval seconds or None, description)
SCHEDULES = {
    "Daily debit run": (
        "debits.tasks.collection.run_scheduled_debits_task",
        # Early morning: customers' salaries have landed, and a failure leaves the
        # whole working day for same-day retries and staff.
        {"minute": "0", "hour": "6"},
        None,
        "Collects every instalment due today or earlier (one scheduled run per day).",
    ),
    "Intraday debit retry runs": (
        "debits.tasks.collection.run_retry_debits_task",
        {"minute": "0", "hour": "10,14,18"},
        None,
        "Collects again what became due today: after re-sync, outage backoff, not received.",
    ),
    "Debit janitor: settle submitted and unknown attempts": (
        "debits.tasks.collection.settle_unresolved_attempts_task",
        None,
        # Often enough that an unknown outcome is settled within minutes, while
        # each pass is one indexed query plus a status call per attempt.
        300,
        "Asks the gateway by idempotency key what happened; never collects again blindly.",
    ),
    "Late fee accrual": (
        "debits.tasks.collection.accrue_late_fees_task",
        {"minute": "30", "hour": "1"},
        None,
        "Charges one fee per instalment past the grace period; bank-caused ones are waived.",
    ),
}


def schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, (task, cron, every, description) in SCHEDULES.items():
        defaults = {"task": task, "queue": QUEUE, "enabled": True, "description": description}
        if cron:
            crontab, _ = CrontabSchedule.objects.get_or_create(
                day_of_week="*",
                day_of_month="*",
                month_of_year="*",
                timezone=TIMEZONE,
                **cron,
            )
            defaults["crontab"] = crontab
        else:
            interval, _ = IntervalSchedule.objects.get_or_create(every=every, period="seconds")
            defaults["interval"] = interval
        PeriodicTask.objects.update_or_create(name=name, defaults=defaults)


def unschedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=list(SCHEDULES)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("debits", "0004_outbox_sweeper_schedule"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule, unschedule)]
