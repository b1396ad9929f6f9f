"""Schedule operations' periodic work in django-celery-beat, where operations can
see and edit it: worker heartbeats on each queue, the hourly snapshot behind the
dashboard's charts, and each reconciliation detector on its own schedule."""

from django.db import migrations

TIMEZONE = "Asia/Shanghai"

# name -> (task, queue, interval seconds or crontab fields, kwargs, description)
SCHEDULES = {
    "Worker heartbeat: default queue": (
        "debits.tasks.operations.record_worker_heartbeat_task",
        "default",
        # /readyz allows two minutes of silence: four missed beats, not one slow one.
        30,
        '{"queue": "default"}',
        "Proves a worker takes work from the default queue (read by /readyz and /metrics).",
    ),
    "Worker heartbeat: resync queue": (
        "debits.tasks.operations.record_worker_heartbeat_task",
        "resync",
        30,
        '{"queue": "resync"}',
        "Proves a worker takes work from the re-sync queue.",
    ),
    "Worker heartbeat: debits queue": (
        "debits.tasks.operations.record_worker_heartbeat_task",
        "debits",
        30,
        '{"queue": "debits"}',
        "Proves a worker takes work from the debits queue.",
    ),
    "Operations snapshot": (
        "debits.tasks.operations.take_operations_snapshot_task",
        "default",
        # Four times an hour: the hour's row holds its latest figures.
        900,
        "{}",
        "Records the hour's out-of-sync mandates, outbox backlog and open alerts.",
    ),
    # Each detector on its own schedule (python manage.py reconcile runs them all).
    "Reconciliation: stale mandates": (
        "debits.tasks.reconciliation.reconcile_task",
        "default",
        # Often enough to repair a mandate long before the next morning's run, while
        # one pass is one indexed query when nothing is behind.
        300,
        '{"detector": "stale_mandates"}',
        "Re-syncs active mandates still behind their card after the grace period.",
    ),
    "Reconciliation: stuck outbox events": (
        "debits.tasks.reconciliation.reconcile_task",
        "default",
        300,
        '{"detector": "outbox"}',
        "Closes settled credential-change events, re-dispatches the rest, alerts on stuck ones.",
    ),
    "Reconciliation: debit runs that stopped": (
        "debits.tasks.reconciliation.reconcile_task",
        "default",
        # A lost chunk waits out its lease (past the task time limit) first, so
        # polling every two minutes adds little to that and costs one indexed query.
        120,
        '{"detector": "runs"}',
        "Sends again the chunks of a running debit run that no worker finished.",
    ),
    "Reconciliation: attempts without an outcome": (
        "debits.tasks.reconciliation.reconcile_task",
        "default",
        # The janitor's own schedule settles attempts every 5 minutes; this pass
        # only alerts on those that stay unknown.
        900,
        '{"detector": "attempts"}',
        "Raises an alert while debit attempts stay without an outcome for an hour.",
    ),
    "Reconciliation: mandates against the network's agreements": (
        "debits.tasks.reconciliation.reconcile_task",
        "default",
        # Daily at 03:30, so a mismatch is repaired before the 06:00 run; a crontab.
        {"minute": "30", "hour": "3"},
        '{"detector": "agreements", "fan_out": true}',
        "Compares every active mandate with the network's agreement, in chunks on the workers.",
    ),
    "Reconciliation: failure rates": (
        "debits.tasks.reconciliation.reconcile_task",
        "default",
        # A jump shows within a quarter of an hour of a run starting; each pass is
        # three grouped queries.
        900,
        '{"detector": "failure_rates"}',
        "Alerts when a failure code's rate today jumps above its trailing baseline.",
    ),
    "Reconciliation: repeated credential changes": (
        "debits.tasks.reconciliation.reconcile_task",
        "default",
        600,
        '{"detector": "credential_changes"}',
        "Flags cards whose credentials changed repeatedly (the next reset needs a supervisor).",
    ),
}


def schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, (task, queue, every, kwargs, description) in SCHEDULES.items():
        defaults = {
            "task": task,
            "queue": queue,
            "kwargs": kwargs,
            "enabled": True,
            "description": description,
        }
        if isinstance(every, dict):
            defaults["crontab"], _ = CrontabSchedule.objects.get_or_create(
                day_of_week="*", day_of_month="*", month_of_year="*", timezone=TIMEZONE, **every
            )
        else:
            defaults["interval"], _ = IntervalSchedule.objects.get_or_create(
                every=every, period="seconds"
            )
        PeriodicTask.objects.update_or_create(name=name, defaults=defaults)


def unschedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=list(SCHEDULES)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("debits", "0010_operations_heartbeats_and_snapshots"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule, unschedule)]
