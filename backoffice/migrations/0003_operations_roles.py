"""Re-syncs the role groups for the operations dashboard: operations, supervisors
and admins open it; only operations use its emergency controls."""

from django.db import migrations

from accounts.roles import sync_role_groups


def resync_role_groups(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    sync_role_groups(apps, missing_ok=True)


class Migration(migrations.Migration):
    dependencies = [
        ("backoffice", "0002_staff_security_roles_and_cache"),
        ("debits", "0010_operations_heartbeats_and_snapshots"),
    ]

    operations = [migrations.RunPython(resync_role_groups, migrations.RunPython.noop)]
