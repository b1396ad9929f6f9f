"""The simulator's books move from the ``debits`` app without touching the database.

The tables were created by ``debits`` 0001-0003 and keep their names
(``Meta.db_table``), so this migration only tells Django's state that they now
belong here; ``debits`` 0007 removes them from its own state afterwards. An
existing database keeps every row; a fresh one gets the tables from the
``debits`` migrations it runs first. Content types are relabelled, so admin
history and any permission granted on these models follow them.
"""

import django.utils.timezone
from django.db import migrations, models

MOVED = ("simulatedagreement", "simulatedcollection", "simulatedfault", "simulatedpresentation")


def relabel_content_types(apps, schema_editor, *, source: str, target: str) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    taken = set(
        ContentType.objects.filter(app_label=target, model__in=MOVED).values_list(
            "model", flat=True
        )
    )
    ContentType.objects.filter(app_label=source, model__in=set(MOVED) - taken).update(
        app_label=target
    )


def forwards(apps, schema_editor):
    relabel_content_types(apps, schema_editor, source="debits", target="simulator")


def backwards(apps, schema_editor):
    relabel_content_types(apps, schema_editor, source="simulator", target="debits")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        # The last debits migration that creates one of these tables.
        ("debits", "0003_simulated_presentation"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="SimulatedAgreement",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("mandate_reference", models.CharField(max_length=32, unique=True)),
                        ("token", models.CharField(max_length=80, unique=True)),
                        ("credential_version", models.PositiveIntegerField()),
                        ("revoked", models.BooleanField(default=False)),
                        ("bound_at", models.DateTimeField(default=django.utils.timezone.now)),
                    ],
                    options={"db_table": "debits_simulatedagreement"},
                ),
                migrations.CreateModel(
                    name="SimulatedCollection",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("idempotency_key", models.CharField(max_length=80, unique=True)),
                        ("mandate_reference", models.CharField(max_length=32)),
                        ("agreement_token", models.CharField(max_length=80)),
                        ("amount_minor", models.BigIntegerField()),
                        ("outcome", models.CharField(max_length=40)),
                        ("gateway_reference", models.CharField(max_length=80)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                    ],
                    options={
                        "db_table": "debits_simulatedcollection",
                        "constraints": [
                            models.CheckConstraint(
                                condition=models.Q(("amount_minor__gt", 0)),
                                name="simulated_collection_amount_positive",
                            )
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="SimulatedFault",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("mandate_reference", models.CharField(db_index=True, max_length=32)),
                        (
                            "outcome",
                            models.CharField(
                                choices=[
                                    ("insufficient_funds", "Insufficient funds"),
                                    ("account_closed", "Account closed"),
                                    ("authorisation_withdrawn", "Authorisation withdrawn"),
                                    ("limit_exceeded", "Limit exceeded"),
                                    ("timeout_after_collect", "Timeout after collecting"),
                                    ("timeout_before_collect", "Timeout before collecting"),
                                    ("unavailable", "Gateway unavailable (5xx)"),
                                    ("bind_unavailable", "Agreement binding unavailable (5xx)"),
                                ],
                                max_length=32,
                            ),
                        ),
                        ("remaining", models.PositiveIntegerField(blank=True, null=True)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                    ],
                    options={"db_table": "debits_simulatedfault"},
                ),
                migrations.CreateModel(
                    name="SimulatedPresentation",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("request_key", models.CharField(max_length=160, unique=True)),
                        ("count", models.PositiveIntegerField(default=0)),
                    ],
                    options={"db_table": "debits_simulatedpresentation"},
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(forwards, backwards),
    ]
