"""``ModelVersion`` now belongs to ``clipanalysis`` (see its migration 0004): state only."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("training", "0003_fit_calibrations_schedule"),
        ("clipanalysis", "0004_modelversion_moves_here"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[migrations.DeleteModel(name="ModelVersion")],
        ),
    ]
