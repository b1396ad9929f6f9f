"""Re-syncs the role groups after the staff-security changes, and creates the cache table.

Roles: auditors may read the sign-in history (django-axes); the admin role no
longer edits periodic tasks. The database cache table holds rate-limit
counters when there is no Redis (see CACHES); with Redis it is not used.
"""

from django.contrib.auth.management import create_permissions
from django.core.management import call_command
from django.db import migrations

from accounts.roles import sync_role_groups


def resync_role_groups(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    sync_role_groups(apps, missing_ok=True)


def create_cache_table(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [
        ("backoffice", "0001_role_groups"),
        ("axes", "0010_accessattemptexpiration"),
        ("debits", "0006_instalment_due_check_rounded_to_the_cent"),
    ]

    operations = [
        migrations.RunPython(resync_role_groups, migrations.RunPython.noop),
        migrations.RunPython(create_cache_table, migrations.RunPython.noop),
    ]
