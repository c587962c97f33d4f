"""``ModelVersion`` moves from ``training`` to ``clipanalysis``: the scorer owns its registry.

State only: the model is declared here on the existing table, and the foreign keys
of results and embeddings point at it. ``training.0004`` drops its own declaration
(state only too), then ``0005`` gives the table this app's name. No row is copied.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("clipanalysis", "0003_reviewers_group"),
        ("training", "0003_fit_calibrations_schedule"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="ModelVersion",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("version", models.SlugField(max_length=120, unique=True)),
                        ("name_or_path", models.CharField(help_text="Hub name or local directory.", max_length=500)),
                        ("source", models.CharField(choices=[("configured", "Configured (CLIP_MODEL_NAME)"), ("demo", "Offline demo model"), ("trained", "Fine-tuned from verdicts")], default="configured", max_length=20)),
                        ("base_model", models.CharField(blank=True, max_length=500)),
                        ("training_summary", models.JSONField(blank=True, default=dict)),
                        ("metrics", models.JSONField(blank=True, default=dict)),
                        ("threshold", models.FloatField()),
                        ("calibration", models.JSONField(blank=True, null=True)),
                        ("is_active", models.BooleanField(default=False)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("activated_at", models.DateTimeField(blank=True, null=True)),
                    ],
                    options={
                        "db_table": "training_modelversion",
                        "ordering": ["-created_at", "-id"],
                        "constraints": [models.UniqueConstraint(condition=models.Q(("is_active", True)), fields=("is_active",), name="one_active_model_version")],
                    },
                ),
                migrations.AlterField(
                    model_name="analysisresult",
                    name="model_version",
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="clipanalysis.modelversion"),
                ),
                migrations.AlterField(
                    model_name="imageembedding",
                    name="model_version",
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="clipanalysis.modelversion"),
                ),
            ],
        ),
    ]
