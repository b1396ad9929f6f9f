"""Re-syncs the role groups for maker-checker staff changes.

The admin role asks for and decides staff changes and may clear old sign-in
history; supervisors decide staff changes.
"""

from importlib import import_module

from django.db import migrations

# The same re-sync as 0002: create any new permissions, then match the groups to accounts.roles.
resync_roles = import_module(
    "backoffice.migrations.0002_staff_security_roles_and_cache"
).resync_role_groups


class Migration(migrations.Migration):
    dependencies = [
        ("backoffice", "0002_staff_security_roles_and_cache"),
        ("accounts", "0005_staff_access_changes"),
    ]

    operations = [migrations.RunPython(resync_roles, migrations.RunPython.noop)]
