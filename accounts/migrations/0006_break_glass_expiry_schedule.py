"""Schedule the break-glass expiry in django-celery-beat.

A break-glass superuser is demoted on their first request after the time
limit; this sweep also demotes one who makes no more requests, so the flag
never outlives its grant by more than a minute.
"""

from django.db import migrations

SWEEP_NAME = "Break-glass expiry: demote superusers whose time is up"
SWEEP_TASK = "accounts.tasks.end_expired_break_glass_task"
SWEEP_EVERY_SECONDS = 60


def schedule_sweep(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every, _ = IntervalSchedule.objects.get_or_create(every=SWEEP_EVERY_SECONDS, period="seconds")
    PeriodicTask.objects.update_or_create(
        name=SWEEP_NAME,
        defaults={
            "task": SWEEP_TASK,
            "interval": every,
            "queue": "default",
            "enabled": True,
            "description": "Ends break-glass superuser rights whose time limit has passed.",
        },
    )


def unschedule_sweep(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=SWEEP_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_staff_access_changes"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule_sweep, unschedule_sweep)]
