"""Schedule operations' periodic work in django-celery-beat, where operations can
see and edit it: worker heartbeats on each queue, the hourly snapshot behind the
dashboard's charts, and the reconciliation of mandates left behind their card."""

from django.db import migrations

# name -> (task, queue, interval seconds, kwargs, description)
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
    "Reconciliation: stale mandates": (
        "debits.tasks.operations.resync_stale_mandates_task",
        "resync",
        # Often enough to repair a mandate long before the next morning's run, while
        # one pass is one indexed query when nothing is behind.
        300,
        "{}",
        "Re-syncs active mandates still behind their card after the grace period.",
    ),
}


def schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, (task, queue, every, kwargs, description) in SCHEDULES.items():
        interval, _ = IntervalSchedule.objects.get_or_create(every=every, period="seconds")
        PeriodicTask.objects.update_or_create(
            name=name,
            defaults={
                "task": task,
                "queue": queue,
                "interval": interval,
                "kwargs": kwargs,
                "enabled": True,
                "description": description,
            },
        )


def unschedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=list(SCHEDULES)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("debits", "0008_operations_heartbeats_and_snapshots"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule, unschedule)]
