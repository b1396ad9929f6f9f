"""Syncs the role groups strictly, once every app's permissions exist.

The earlier role migrations sync the live role table (accounts.roles) while
later migrations still have permissions to add, so they skip what does not
exist yet; this one runs after the latest migration of every app the roles
name and fails on a permission that does not exist at all.
"""

from importlib import import_module

from django.db import migrations

from accounts.roles import sync_role_groups

create_permissions_for_all_apps = import_module(
    "backoffice.migrations.0002_staff_security_roles_and_cache"
).resync_role_groups


def sync_roles_strictly(apps, schema_editor):
    create_permissions_for_all_apps(apps, schema_editor)
    sync_role_groups(apps, strict=True)


class Migration(migrations.Migration):
    dependencies = [
        ("backoffice", "0004_merge_operations_and_staff_change_roles"),
        ("accounts", "0007_merge_staff_access_and_credential_kinds"),
        ("debits", "0013_debit_run_chunks_and_janitor_lease"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
        ("axes", "0010_accessattemptexpiration"),
    ]

    operations = [migrations.RunPython(sync_roles_strictly, migrations.RunPython.noop)]
