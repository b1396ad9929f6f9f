"""Gives the roles their complaint permissions and schedules the complaint beat tasks."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

from accounts.roles import sync_role_groups

# Name -> (task, minutes between runs). Deadlines are whole Shanghai days, so a
# quarter-hour pass escalates a breach within 15 minutes of midnight; the
# repair promise is counted in hours, so the same pace is ample for it.
SCHEDULES = {
    "Complaints: deadline reminders and escalation": (
        "backoffice.complaints.tasks.watch_complaint_deadlines_task",
        15,
    ),
    "Complaints: repair promise clock": (
        "backoffice.complaints.tasks.review_repair_promises_task",
        15,
    ),
}


def resync_role_groups(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    sync_role_groups(apps)


def schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, (task, minutes) in SCHEDULES.items():
        every, _ = IntervalSchedule.objects.get_or_create(every=minutes, period="minutes")
        PeriodicTask.objects.update_or_create(
            name=name,
            defaults={"task": task, "interval": every, "queue": "default", "enabled": True},
        )


def unschedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(
        name__in=list(SCHEDULES)
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("complaints", "0001_initial"),
        ("backoffice", "0004_merge_operations_and_staff_change_roles"),
        ("accounts", "0008_customer_notices"),
        ("debits", "0013_debit_run_chunks_and_janitor_lease"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.RunPython(resync_role_groups, migrations.RunPython.noop),
        migrations.RunPython(schedule, unschedule),
    ]
