# Three foreign-key indexes that a composite index already serves, and the LIKE index
# of the idempotency key (never searched by prefix): each was written again for every
# attempt claimed and settled, and every instalment marked paid.
#
# Only the indexes are dropped. A plain AlterField(db_index=False) would also drop the
# partial unique indexes on instalment_id (one_succeeded_attempt_per_instalment, the
# guard against collecting twice) without recreating them, and re-validate each
# foreign key over the whole table.

import django.db.models.deletion
from django.db import migrations, models

DROPPED = {
    "debits_debitattempt_instalment_id_8dc81acd": "debits_debitattempt (instalment_id)",
    "debits_debitattempt_run_id_466b075b": "debits_debitattempt (run_id)",
    "debits_instalment_loan_id_793cd216": "debits_instalment (loan_id)",
}
LIKE_INDEX = "debits_debitattempt_idempotency_key_5f8ffc78_like"


def drop_like_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'DROP INDEX IF EXISTS "{LIKE_INDEX}"')


def restore_like_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{LIKE_INDEX}" ON "debits_debitattempt" '
            '("idempotency_key" varchar_pattern_ops)'
        )


class Migration(migrations.Migration):
    dependencies = [
        ("debits", "0017_dashboard_figures"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="debitattempt",
                    name="instalment",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="attempts",
                        to="debits.instalment",
                    ),
                ),
                migrations.AlterField(
                    model_name="debitattempt",
                    name="run",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="attempts",
                        to="debits.debitrun",
                    ),
                ),
                migrations.AlterField(
                    model_name="instalment",
                    name="loan",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="instalments",
                        to="debits.loan",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{name}"',
                    reverse_sql=f'CREATE INDEX IF NOT EXISTS "{name}" ON {table_columns}',
                )
                for name, table_columns in DROPPED.items()
            ],
        ),
        migrations.RunPython(drop_like_index, restore_like_index),
    ]
