"""Schedule the outbox sweeper in django-celery-beat, where operations can see and edit it."""

from django.db import migrations

SWEEPER_NAME = "Outbox sweeper: re-dispatch unfinished credential changes"
SWEEPER_TASK = "debits.tasks.resync.sweep_outbox_task"
# Half the default redispatch threshold (30 s): a lost message is re-sent
# within 30-45 s of the change, while the sweep itself is one indexed query.
SWEEP_EVERY_SECONDS = 15


def schedule_sweeper(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every, _ = IntervalSchedule.objects.get_or_create(every=SWEEP_EVERY_SECONDS, period="seconds")
    PeriodicTask.objects.update_or_create(
        name=SWEEPER_NAME,
        defaults={
            "task": SWEEPER_TASK,
            "interval": every,
            "queue": "resync",
            "enabled": True,
            "description": "Re-dispatches card.credential_changed events no worker finished.",
        },
    )


def unschedule_sweeper(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=SWEEPER_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("debits", "0003_simulated_presentation"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule_sweeper, unschedule_sweeper)]
