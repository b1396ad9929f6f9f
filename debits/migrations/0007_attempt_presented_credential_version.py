"""The attempt's version is the one the mandate's agreement was bound to when the
debit was presented, not the card's: name it for what it holds."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("debits", "0006_instalment_due_check_rounded_to_the_cent"),
    ]

    operations = [
        migrations.RenameField(
            model_name="debitattempt",
            old_name="credential_version",
            new_name="presented_credential_version",
        ),
    ]
