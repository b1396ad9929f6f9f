"""Joins the operations and the maker-checker role migrations, then syncs every
role group once more: from here on every permission the roles name exists."""

from importlib import import_module

from django.db import migrations

from accounts.roles import sync_role_groups

create_missing_permissions = import_module(
    "backoffice.migrations.0003_operations_roles"
).resync_role_groups


def resync_role_groups_strictly(apps, schema_editor):
    create_missing_permissions(apps, schema_editor)
    sync_role_groups(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("backoffice", "0003_operations_roles"),
        ("backoffice", "0003_staff_change_roles"),
    ]

    operations = [migrations.RunPython(resync_role_groups_strictly, migrations.RunPython.noop)]
