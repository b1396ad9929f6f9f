"""The gateway simulator's books now belong to the ``simulator`` app.

State only: the tables stay where they are (the simulator's models name them
with ``Meta.db_table``), so no row is lost. This runs after ``simulator``
0001 has taken them into its state.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("debits", "0007_attempt_presented_credential_version"),
        ("simulator", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="SimulatedAgreement"),
                migrations.DeleteModel(name="SimulatedCollection"),
                migrations.DeleteModel(name="SimulatedFault"),
                migrations.DeleteModel(name="SimulatedPresentation"),
            ],
            database_operations=[],
        ),
    ]
