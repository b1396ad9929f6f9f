import django.db.models.functions.text
from django.db import migrations, models

# The staff search box's indexes on PostgreSQL (customer search, accounts.selectors).
# The database collates C.UTF-8, which PostgreSQL 15 does not treat as "C", so a
# plain index serves neither LIKE 'prefix%' nor an ORDER BY under "C": these index
# the name and phone under COLLATE "C" (byte order, which for UTF-8 is code point
# order), and the search both matches and sorts under that collation, so a search
# reads the first page straight off the index and stops.
POSTGRES_INDEXES = [
    (
        "accounts_customer_name_c",
        "CREATE INDEX IF NOT EXISTS accounts_customer_name_c ON accounts_customer "
        '((full_name COLLATE "C"), id)',
    ),
    (
        "accounts_customer_phone4_name_c",
        "CREATE INDEX IF NOT EXISTS accounts_customer_phone4_name_c ON accounts_customer "
        '(phone_last_four, (full_name COLLATE "C"), id)',
    ),
    (
        "accounts_customer_phone_c",
        "CREATE INDEX IF NOT EXISTS accounts_customer_phone_c ON accounts_customer "
        '((phone COLLATE "C"))',
    ),
]


def create_search_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for _name, sql in POSTGRES_INDEXES:
        schema_editor.execute(sql)


def drop_search_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _sql in POSTGRES_INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0009_staff_language"),
    ]

    operations = [
        migrations.AddField(
            model_name="customer",
            name="phone_last_four",
            field=models.GeneratedField(
                db_persist=True,
                expression=django.db.models.functions.text.Right("phone", 4),
                output_field=models.CharField(max_length=4),
            ),
        ),
        migrations.RunPython(create_search_indexes, drop_search_indexes, elidable=False),
    ]
